// filter_lexer.hpp - splits an MLflow search filter or order_by clause into tokens.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::tracking::search {

/// What a token is. Keywords (AND, IN, NOT, LIKE, ILIKE, ASC, DESC) are WORDs: whether a word
/// is a keyword depends on where it stands, so the parser decides, case-insensitively.
enum class TokenKind {
  WORD,           ///< bare name: `metrics`, `acc`, `AND`; after a DOT it may start with a digit
  BACKTICKED,     ///< `` `my key` ``; text is the content without the backticks
  DOUBLE_QUOTED,  ///< `"my key"`: a key part or a string value; text is unescaped
  SINGLE_QUOTED,  ///< `'value'`: a string value; text is unescaped
  NUMBER,         ///< `1`, `-2.5`, `.5`, `1e-3`; text is as written
  DOT,
  COMMA,
  LEFT_PAREN,
  RIGHT_PAREN,
  OPERATOR,  ///< `=`, `!=`, `<`, `<=`, `>`, `>=`, and the invalid `==`, `<>` (reported later)
  END,       ///< always the last token
};

/// One token. `offset` and `length` locate the raw source text, quotes included.
struct Token {
  TokenKind kind = TokenKind::END;
  std::string text;
  std::size_t offset = 0;
  std::size_t length = 0;
};

/// Tokenizes `input`. Inside quotes, a doubled quote (`''`) or a backslash before the quote
/// (`\'`) stands for the quote and `\\` for one backslash; any other backslash is kept as is.
/// Fails with INVALID_PARAMETER_VALUE on an unterminated quote, a NUL byte, a malformed number
/// (`1abc`, `1e`) or a character outside the grammar (`;`, `!`, `+`, `*`). On success the last
/// token is END.
Result<std::vector<Token>> Tokenize(std::string_view input);

/// A short human name of a kind for error messages ("string", "number", ...). Does not fail.
std::string_view TokenKindName(TokenKind kind);

/// True when `word` equals the ASCII `keyword` ignoring case. Does not fail.
bool IsKeyword(std::string_view word, std::string_view keyword);

}  // namespace mltf::tracking::search
