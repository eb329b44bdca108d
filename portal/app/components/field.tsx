import { useId, type ReactNode } from 'react';

interface LabelledProps {
  label: string;
  error?: string;
  hint?: string;
}

/** The label, hint and error around one control, tied to it by id so they are announced with it. */
function Labelled(props: LabelledProps & { control: (a11y: { id: string; 'aria-invalid'?: true; 'aria-describedby'?: string }) => ReactNode }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [props.hint ? hintId : undefined, props.error ? errorId : undefined].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.hint ? (
        <p id={hintId} className="field-hint">
          {props.hint}
        </p>
      ) : null}
      {props.control({ id, 'aria-invalid': props.error ? true : undefined, 'aria-describedby': describedBy || undefined })}
      {props.error ? (
        <p id={errorId} className="field-error">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** A labelled input; its error (and hint) sit next to it and are announced with it. */
export function Field(
  props: LabelledProps & {
    name: string;
    type?: string;
    defaultValue?: string;
    autoComplete?: string;
    required?: boolean;
  },
) {
  return (
    <Labelled
      {...props}
      control={(a11y) => (
        <input {...a11y} name={props.name} type={props.type ?? 'text'} defaultValue={props.defaultValue} autoComplete={props.autoComplete} required={props.required} />
      )}
    />
  );
}

/** A labelled select of `[value, text]` options, announced like Field; `includeAny` adds an empty "Any" first, for filters. */
export function SelectField(
  props: LabelledProps & {
    name: string;
    defaultValue?: string;
    options: readonly (readonly [value: string, text: string])[];
    includeAny?: boolean;
  },
) {
  return (
    <Labelled
      {...props}
      control={(a11y) => (
        <select {...a11y} name={props.name} defaultValue={props.defaultValue}>
          {props.includeAny ? <option value="">Any</option> : null}
          {props.options.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      )}
    />
  );
}
