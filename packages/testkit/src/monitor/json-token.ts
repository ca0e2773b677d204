/** The tokens QEMU's JSON lexer hands its parser (shared by the lexer and the parser, which loads on demand). */

/** Token types the lexer produces. */
export const Tok = {
  LCurly: 0,
  RCurly: 1,
  LSquare: 2,
  RSquare: 3,
  Colon: 4,
  Comma: 5,
  Integer: 6,
  Float: 7,
  Keyword: 8,
  String: 9,
} as const;
export type Tok = (typeof Tok)[keyof typeof Tok];

/** One token. */
export interface Token {
  type: Tok;
  /** Latin-1 view of the token's bytes (strings include their quotes). */
  text: string;
}
