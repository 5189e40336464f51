/** The floor of the client comparison: a module with nothing in it. */
export const ok = true;
