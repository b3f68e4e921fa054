// filter_lexer.cpp - the tokenizer behind the search filter and order_by parsers.
#include "tracking/search/filter_lexer.hpp"

#include <fmt/format.h>

namespace mltf::tracking::search {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Bytes >= 0x80 count as letters so that UTF-8 keys such as `metrics.précision` lex as words.
bool IsWordStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool IsWordChar(char c) { return IsWordStart(c) || IsDigit(c) || c == '$' || c == '#'; }

bool IsIdentifierPart(TokenKind kind) {
  return kind == TokenKind::WORD || kind == TokenKind::BACKTICKED ||
         kind == TokenKind::DOUBLE_QUOTED;
}

Error LexError(std::string message) { return Error::InvalidParameter(std::move(message)); }

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  Result<std::vector<Token>> Run() {
    while (true) {
      while (pos_ < input_.size() && IsSpace(input_[pos_])) {
        ++pos_;
      }
      if (pos_ >= input_.size()) {
        tokens_.push_back(Token{TokenKind::END, "", pos_, 0});
        return std::move(tokens_);
      }
      MLTF_TRY(Next());
    }
  }

 private:
  // True when the previous token ends exactly at the current position and has `kind`-like
  // shape; used to tell `metrics.acc` (a dotted name) from `.5` (a number).
  bool Follows(bool (*predicate)(TokenKind)) const {
    if (tokens_.empty()) {
      return false;
    }
    const Token& last = tokens_.back();
    return last.offset + last.length == pos_ && predicate(last.kind);
  }

  void Push(TokenKind kind, std::string text, std::size_t start) {
    tokens_.push_back(Token{kind, std::move(text), start, pos_ - start});
  }

  Result<void> Next() {
    const std::size_t start = pos_;
    const char c = input_[pos_];
    if (c == '\0') {
      return Fail(LexError(fmt::format("NUL character at position {}", pos_)));
    }
    if (c == '\'' || c == '"') {
      std::string text;
      MLTF_TRY(ReadQuoted(c, text));
      Push(c == '\'' ? TokenKind::SINGLE_QUOTED : TokenKind::DOUBLE_QUOTED, std::move(text), start);
      return {};
    }
    if (c == '`') {
      const std::size_t close = input_.find('`', pos_ + 1);
      if (close == std::string_view::npos) {
        return Fail(
            LexError(fmt::format("unterminated backtick quote starting at position {}", start)));
      }
      std::string text(input_.substr(pos_ + 1, close - pos_ - 1));
      if (text.find('\0') != std::string::npos) {
        return Fail(LexError(fmt::format("NUL character in quote at position {}", start)));
      }
      pos_ = close + 1;
      Push(TokenKind::BACKTICKED, std::move(text), start);
      return {};
    }
    // After `name.` any word character may start the next part: `metrics.1st_epoch`.
    if (Follows([](TokenKind kind) { return kind == TokenKind::DOT; }) && IsWordChar(c)) {
      return ReadWord(start);
    }
    if (IsWordStart(c)) {
      return ReadWord(start);
    }
    if (c == '.') {
      if (!Follows(IsIdentifierPart) && pos_ + 1 < input_.size() && IsDigit(input_[pos_ + 1])) {
        return ReadNumber(start);
      }
      ++pos_;
      Push(TokenKind::DOT, ".", start);
      return {};
    }
    if (IsDigit(c) ||
        (c == '-' && pos_ + 1 < input_.size() &&
         (IsDigit(input_[pos_ + 1]) ||
          (input_[pos_ + 1] == '.' && pos_ + 2 < input_.size() && IsDigit(input_[pos_ + 2]))))) {
      return ReadNumber(start);
    }
    switch (c) {
      case ',':
        ++pos_;
        Push(TokenKind::COMMA, ",", start);
        return {};
      case '(':
        ++pos_;
        Push(TokenKind::LEFT_PAREN, "(", start);
        return {};
      case ')':
        ++pos_;
        Push(TokenKind::RIGHT_PAREN, ")", start);
        return {};
      default:
        break;
    }
    for (std::string_view op : {"<=", ">=", "!=", "<>", "==", "=", "<", ">"}) {
      if (input_.substr(pos_, op.size()) == op) {
        pos_ += op.size();
        Push(TokenKind::OPERATOR, std::string(op), start);
        return {};
      }
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Fail(LexError(fmt::format("unexpected control character at position {}", pos_)));
    }
    return Fail(LexError(fmt::format("unexpected character '{}' at position {}", c, pos_)));
  }

  Result<void> ReadWord(std::size_t start) {
    while (pos_ < input_.size() && IsWordChar(input_[pos_])) {
      ++pos_;
    }
    Push(TokenKind::WORD, std::string(input_.substr(start, pos_ - start)), start);
    return {};
  }

  // `-?(digits[.digits*] | .digits)([eE][+-]?digits)?`, not followed by a word character.
  Result<void> ReadNumber(std::size_t start) {
    if (input_[pos_] == '-') {
      ++pos_;
    }
    std::size_t digits = SkipDigits();
    if (pos_ < input_.size() && input_[pos_] == '.') {
      ++pos_;
      digits += SkipDigits();
    }
    if (digits == 0) {
      return Fail(LexError(fmt::format("malformed number at position {}", start)));
    }
    if (pos_ < input_.size() && (input_[pos_] == 'e' || input_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < input_.size() && (input_[pos_] == '+' || input_[pos_] == '-')) {
        ++pos_;
      }
      if (SkipDigits() == 0) {
        return Fail(LexError(fmt::format("malformed number at position {}", start)));
      }
    }
    if (pos_ < input_.size() && (IsWordChar(input_[pos_]) || input_[pos_] == '.')) {
      return Fail(LexError(fmt::format("malformed number at position {}", start)));
    }
    Push(TokenKind::NUMBER, std::string(input_.substr(start, pos_ - start)), start);
    return {};
  }

  std::size_t SkipDigits() {
    const std::size_t begin = pos_;
    while (pos_ < input_.size() && IsDigit(input_[pos_])) {
      ++pos_;
    }
    return pos_ - begin;
  }

  Result<void> ReadQuoted(char quote, std::string& text) {
    const std::size_t start = pos_;
    ++pos_;
    while (pos_ < input_.size()) {
      const char c = input_[pos_];
      if (c == '\0') {
        return Fail(LexError(fmt::format("NUL character in string at position {}", pos_)));
      }
      if (c == quote) {
        if (pos_ + 1 < input_.size() && input_[pos_ + 1] == quote) {
          text += quote;
          pos_ += 2;
          continue;
        }
        ++pos_;
        return {};
      }
      if (c == '\\' && pos_ + 1 < input_.size() &&
          (input_[pos_ + 1] == quote || input_[pos_ + 1] == '\\')) {
        text += input_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      text += c;
      ++pos_;
    }
    return Fail(LexError(fmt::format("unterminated string starting at position {}", start)));
  }

  std::string_view input_;
  std::size_t pos_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view input) { return Lexer(input).Run(); }

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::WORD:
      return "name";
    case TokenKind::BACKTICKED:
      return "backticked name";
    case TokenKind::DOUBLE_QUOTED:
      return "double-quoted string";
    case TokenKind::SINGLE_QUOTED:
      return "string";
    case TokenKind::NUMBER:
      return "number";
    case TokenKind::DOT:
      return "'.'";
    case TokenKind::COMMA:
      return "','";
    case TokenKind::LEFT_PAREN:
      return "'('";
    case TokenKind::RIGHT_PAREN:
      return "')'";
    case TokenKind::OPERATOR:
      return "operator";
    case TokenKind::END:
      return "end of input";
  }
  return "token";
}

bool IsKeyword(std::string_view word, std::string_view keyword) {
  if (word.size() != keyword.size()) {
    return false;
  }
  for (std::size_t i = 0; i < word.size(); ++i) {
    char a = word[i];
    char b = keyword[i];
    if (a >= 'a' && a <= 'z') {
      a = static_cast<char>(a - 'a' + 'A');
    }
    if (b >= 'a' && b <= 'z') {
      b = static_cast<char>(b - 'a' + 'A');
    }
    if (a != b) {
      return false;
    }
  }
  return true;
}

}  // namespace mltf::tracking::search
