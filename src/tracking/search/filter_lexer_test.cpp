// filter_lexer_test.cpp - table-driven tests of the search filter tokenizer.
#include "tracking/search/filter_lexer.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace mltf::tracking::search {
namespace {

using Kind = TokenKind;

struct LexCase {
  std::string name;
  std::string input;
  std::vector<std::pair<Kind, std::string>> tokens;  // without the final END
};

// Names the ctest entry (CMake appends the printed parameter).
void PrintTo(const LexCase& test_case, std::ostream* os) { *os << test_case.name; }

class LexerTokens : public testing::TestWithParam<LexCase> {};

TEST_P(LexerTokens, Tokenizes) {
  const LexCase& test = GetParam();
  auto tokens = Tokenize(test.input);
  ASSERT_TRUE(tokens) << tokens.error().message;
  ASSERT_FALSE(tokens->empty());
  EXPECT_EQ(tokens->back().kind, Kind::END);
  EXPECT_EQ(tokens->back().offset, test.input.size());
  std::vector<std::pair<Kind, std::string>> actual;
  for (std::size_t i = 0; i + 1 < tokens->size(); ++i) {
    actual.emplace_back((*tokens)[i].kind, (*tokens)[i].text);
  }
  EXPECT_EQ(actual, test.tokens);
}

INSTANTIATE_TEST_SUITE_P(search, LexerTokens,
                         testing::Values(LexCase{"empty", "", {}},
                                         LexCase{"blanks", " \t\r\n ", {}},
                                         LexCase{"dotted_name_and_number",
                                                 "metrics.acc > 0.5",
                                                 {{Kind::WORD, "metrics"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "acc"},
                                                  {Kind::OPERATOR, ">"},
                                                  {Kind::NUMBER, "0.5"}}},
                                         LexCase{"no_spaces",
                                                 "metrics.acc>=.5",
                                                 {{Kind::WORD, "metrics"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "acc"},
                                                  {Kind::OPERATOR, ">="},
                                                  {Kind::NUMBER, ".5"}}},
                                         LexCase{"negative_and_exponent_numbers",
                                                 "-1 -2.5 1e3 1.5E-3 -.25 2e+2 7.",
                                                 {{Kind::NUMBER, "-1"},
                                                  {Kind::NUMBER, "-2.5"},
                                                  {Kind::NUMBER, "1e3"},
                                                  {Kind::NUMBER, "1.5E-3"},
                                                  {Kind::NUMBER, "-.25"},
                                                  {Kind::NUMBER, "2e+2"},
                                                  {Kind::NUMBER, "7."}}},
                                         LexCase{"all_operators",
                                                 "= != < <= > >= == <>",
                                                 {{Kind::OPERATOR, "="},
                                                  {Kind::OPERATOR, "!="},
                                                  {Kind::OPERATOR, "<"},
                                                  {Kind::OPERATOR, "<="},
                                                  {Kind::OPERATOR, ">"},
                                                  {Kind::OPERATOR, ">="},
                                                  {Kind::OPERATOR, "=="},
                                                  {Kind::OPERATOR, "<>"}}},
                                         LexCase{"single_quoted_with_escapes",
                                                 R"('it''s' 'a\'b' 'c\\d' 'e\nf' '')",
                                                 {{Kind::SINGLE_QUOTED, "it's"},
                                                  {Kind::SINGLE_QUOTED, "a'b"},
                                                  {Kind::SINGLE_QUOTED, R"(c\d)"},
                                                  {Kind::SINGLE_QUOTED, R"(e\nf)"},
                                                  {Kind::SINGLE_QUOTED, ""}}},
                                         LexCase{"double_quoted_with_escapes",
                                                 R"("a ""b""" "c\"d" "it's")",
                                                 {{Kind::DOUBLE_QUOTED, R"(a "b")"},
                                                  {Kind::DOUBLE_QUOTED, R"(c"d)"},
                                                  {Kind::DOUBLE_QUOTED, "it's"}}},
                                         LexCase{"quotes_keep_other_quote_kind",
                                                 R"('say "hi"')",
                                                 {{Kind::SINGLE_QUOTED, R"(say "hi")"}}},
                                         LexCase{"backticked_key",
                                                 "metrics.`f1 score` <= 1",
                                                 {{Kind::WORD, "metrics"},
                                                  {Kind::DOT, "."},
                                                  {Kind::BACKTICKED, "f1 score"},
                                                  {Kind::OPERATOR, "<="},
                                                  {Kind::NUMBER, "1"}}},
                                         LexCase{"double_quoted_key",
                                                 R"(tags."my.tag" = 'x')",
                                                 {{Kind::WORD, "tags"},
                                                  {Kind::DOT, "."},
                                                  {Kind::DOUBLE_QUOTED, "my.tag"},
                                                  {Kind::OPERATOR, "="},
                                                  {Kind::SINGLE_QUOTED, "x"}}},
                                         LexCase{"digit_led_key_after_dot",
                                                 "metrics.1st_epoch.5 = 2",
                                                 {{Kind::WORD, "metrics"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "1st_epoch"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "5"},
                                                  {Kind::OPERATOR, "="},
                                                  {Kind::NUMBER, "2"}}},
                                         LexCase{"keywords_are_words",
                                                 "a IN ('x','y') and b not in ('z')",
                                                 {{Kind::WORD, "a"},
                                                  {Kind::WORD, "IN"},
                                                  {Kind::LEFT_PAREN, "("},
                                                  {Kind::SINGLE_QUOTED, "x"},
                                                  {Kind::COMMA, ","},
                                                  {Kind::SINGLE_QUOTED, "y"},
                                                  {Kind::RIGHT_PAREN, ")"},
                                                  {Kind::WORD, "and"},
                                                  {Kind::WORD, "b"},
                                                  {Kind::WORD, "not"},
                                                  {Kind::WORD, "in"},
                                                  {Kind::LEFT_PAREN, "("},
                                                  {Kind::SINGLE_QUOTED, "z"},
                                                  {Kind::RIGHT_PAREN, ")"}}},
                                         LexCase{"utf8_word_and_string",
                                                 "tags.équipe = 'vision ✓'",
                                                 {{Kind::WORD, "tags"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "équipe"},
                                                  {Kind::OPERATOR, "="},
                                                  {Kind::SINGLE_QUOTED, "vision ✓"}}},
                                         LexCase{"minus_glued_to_name_is_a_number",
                                                 "metrics.acc-1",
                                                 {{Kind::WORD, "metrics"},
                                                  {Kind::DOT, "."},
                                                  {Kind::WORD, "acc"},
                                                  {Kind::NUMBER, "-1"}}}));

struct LexErrorCase {
  std::string name;
  std::string input;
  std::string message_part;
};

void PrintTo(const LexErrorCase& test_case, std::ostream* os) { *os << test_case.name; }

class LexerErrors : public testing::TestWithParam<LexErrorCase> {};

TEST_P(LexerErrors, Fails) {
  const LexErrorCase& test = GetParam();
  auto tokens = Tokenize(test.input);
  ASSERT_FALSE(tokens) << "unexpectedly tokenized: " << test.input;
  EXPECT_EQ(tokens.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(tokens.error().message.find(test.message_part), std::string::npos)
      << tokens.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, LexerErrors,
    testing::Values(
        LexErrorCase{"unterminated_single", "tags.a = 'abc", "unterminated string"},
        LexErrorCase{"unterminated_double", "tags.a = \"abc", "unterminated string"},
        LexErrorCase{"escaped_final_quote", R"(tags.a = 'abc\')", "unterminated string"},
        LexErrorCase{"unterminated_backtick", "metrics.`abc > 1", "unterminated backtick"},
        LexErrorCase{"semicolon", "a = 1; b = 2", "unexpected character ';' at position 5"},
        LexErrorCase{"bang_alone", "a ! 1", "unexpected character '!'"},
        LexErrorCase{"plus_sign", "a = +1", "unexpected character '+'"},
        LexErrorCase{"lone_minus", "a = - 1", "unexpected character '-'"},
        LexErrorCase{"star", "a = *", "unexpected character '*'"},
        LexErrorCase{"number_glued_to_word", "a = 1abc", "malformed number"},
        LexErrorCase{"exponent_without_digits", "a = 1e", "malformed number"},
        LexErrorCase{"two_decimal_points", "a = 1.2.3", "malformed number"},
        LexErrorCase{"nul_byte", std::string("a = 'x\0y'", 9), "NUL character"},
        LexErrorCase{"control_character", "a = \x01", "control character"}));

struct KeywordCase {
  std::string name;
  std::string word;
  std::string keyword;
  bool matches;
};

void PrintTo(const KeywordCase& test_case, std::ostream* os) { *os << test_case.name; }

class LexerKeywords : public testing::TestWithParam<KeywordCase> {};

TEST_P(LexerKeywords, MatchesIgnoringCase) {
  EXPECT_EQ(IsKeyword(GetParam().word, GetParam().keyword), GetParam().matches);
}

INSTANTIATE_TEST_SUITE_P(search, LexerKeywords,
                         testing::Values(KeywordCase{"upper", "AND", "AND", true},
                                         KeywordCase{"lower", "and", "AND", true},
                                         KeywordCase{"mixed", "aNd", "AND", true},
                                         KeywordCase{"prefix", "AN", "AND", false},
                                         KeywordCase{"longer", "ANDY", "AND", false},
                                         KeywordCase{"other", "OR", "AND", false}));

}  // namespace
}  // namespace mltf::tracking::search
