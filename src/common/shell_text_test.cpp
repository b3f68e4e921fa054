// shell_text_test.cpp - shell quoting and text checks, with literal inputs.
#include "common/shell_text.hpp"

#include <gtest/gtest.h>

namespace mltf {
namespace {

TEST(ShellText, QuotesAsPythonShlexDoes) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("plain-value_1.5:/x@%+=,"), "plain-value_1.5:/x@%+=,");
  EXPECT_EQ(ShellQuote("two words"), "'two words'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\"'\"'s'");
  EXPECT_EQ(ShellQuote("$(rm -rf /)"), "'$(rm -rf /)'");
  EXPECT_EQ(ShellQuote("line\nbreak"), "'line\nbreak'");
}

TEST(ShellText, ShellIdentifiers) {
  EXPECT_TRUE(IsShellIdentifier("CUDA_VISIBLE_DEVICES"));
  EXPECT_TRUE(IsShellIdentifier("_x1"));
  EXPECT_FALSE(IsShellIdentifier(""));
  EXPECT_FALSE(IsShellIdentifier("1X"));
  EXPECT_FALSE(IsShellIdentifier("A-B"));
  EXPECT_FALSE(IsShellIdentifier("A=B"));
  EXPECT_FALSE(IsShellIdentifier("$(id)"));
}

TEST(ShellText, ControlCharacters) {
  EXPECT_FALSE(FindControlCharacter("gpu:1").has_value());
  EXPECT_EQ(FindControlCharacter("gpu:1\n#SBATCH --wrap=id"), '\n');
  EXPECT_EQ(FindControlCharacter(std::string_view("a\0b", 3)), '\0');
  EXPECT_EQ(FindControlCharacter("del\x7f"), 0x7f);
  EXPECT_FALSE(FindControlCharacter("caf\xc3\xa9").has_value());  // UTF-8 is not control
}

TEST(ShellText, QuotesForMessages) {
  EXPECT_EQ(QuoteForMessage("a\nb\xff"), "a\\x0ab\\xff");
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "abc...");
  EXPECT_EQ(QuoteForMessage("abc", 3), "abc");
}

}  // namespace
}  // namespace mltf
