/** Shared by the server's check and the forms' hint. */
export const MIN_PASSWORD_LENGTH = 8;
