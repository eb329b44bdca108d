/** The CSRF token every portal form sends back; see csrf.server.ts. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="csrf" value={token} />;
}
