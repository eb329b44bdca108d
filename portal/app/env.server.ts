const DEFAULT_TEMPORAL_UI_URL = 'http://localhost:8233';

export function getTemporalUiUrl(): string {
  return process.env.TEMPORAL_UI_URL?.trim() || DEFAULT_TEMPORAL_UI_URL;
}
