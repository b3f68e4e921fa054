// artifact_path_test.cpp - unit tests of the artifact path spelling rules.
#include "artifacts/artifact_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mltf::artifacts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Normalised(std::string_view raw) {
  auto path = ArtifactPath::Parse(raw);
  EXPECT_TRUE(path.has_value()) << "'" << raw << "': " << path.error().message;
  return path ? path->str() : "<error>";
}

// Expects `raw` to be refused with INVALID_PARAMETER_VALUE and a message containing `reason`.
void ExpectRefused(std::string_view raw, std::string_view reason) {
  auto path = ArtifactPath::Parse(raw);
  ASSERT_FALSE(path.has_value()) << "accepted '" << raw << "' as '" << path->str() << "'";
  EXPECT_EQ(path.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(path.error().message, HasSubstr("Invalid artifact path"));
  EXPECT_THAT(path.error().message, HasSubstr(std::string(reason)));
}

TEST(ArtifactPathTest, KeepsPlainRelativePaths) {
  EXPECT_EQ(Normalised("1/abc/artifacts/model/MLmodel"), "1/abc/artifacts/model/MLmodel");
  EXPECT_EQ(Normalised("file.txt"), "file.txt");
  EXPECT_EQ(Normalised("..hidden/...dots/a..b/.x"), "..hidden/...dots/a..b/.x");
}

TEST(ArtifactPathTest, DropsEmptyAndDotComponents) {
  EXPECT_EQ(Normalised("a//b"), "a/b");
  EXPECT_EQ(Normalised("a/./b/"), "a/b");
  EXPECT_EQ(Normalised("./a/b/."), "a/b");
  EXPECT_EQ(Normalised("a///"), "a");
}

TEST(ArtifactPathTest, EmptyAndDotAreTheRoot) {
  for (const std::string_view raw : {"", ".", "./", ".//./"}) {
    auto path = ArtifactPath::Parse(raw);
    ASSERT_TRUE(path.has_value()) << raw;
    EXPECT_TRUE(path->IsRoot()) << raw;
    EXPECT_EQ(path->str(), "");
    EXPECT_EQ(path->Name(), "");
    EXPECT_TRUE(path->components().empty());
  }
}

TEST(ArtifactPathTest, SplitsComponents) {
  auto path = ArtifactPath::Parse("a//b/c.txt");
  ASSERT_TRUE(path.has_value());
  EXPECT_THAT(std::vector<std::string>(path->components().begin(), path->components().end()),
              ElementsAre("a", "b", "c.txt"));
  EXPECT_EQ(path->Name(), "c.txt");
  EXPECT_FALSE(path->IsRoot());
}

TEST(ArtifactPathTest, AcceptsNamesMlflowClientsSend) {
  EXPECT_EQ(Normalised("dir/file with spaces.json"), "dir/file with spaces.json");
  EXPECT_EQ(Normalised("données/日本語 ü+ä.txt"), "données/日本語 ü+ä.txt");
  EXPECT_EQ(Normalised("a+b=c,d;e@f~g!h'i(j)k[l]m{n}$&.txt"), "a+b=c,d;e@f~g!h'i(j)k[l]m{n}$&.txt");
  EXPECT_EQ(Normalised("100%.txt"), "100%.txt");
  EXPECT_EQ(Normalised("50%zz"), "50%zz");
  EXPECT_EQ(Normalised("x/a:b"), "x/a:b");
  EXPECT_EQ(Normalised("ab:c"), "ab:c");
  // A literal "%20" (the client sent "%2520") stays as it is: only the checks decode.
  EXPECT_EQ(Normalised("data%20set.csv"), "data%20set.csv");
  EXPECT_EQ(Normalised("a%2Fb"), "a%2Fb");
}

TEST(ArtifactPathTest, RefusesParentComponents) {
  ExpectRefused("..", "'..'");
  ExpectRefused("../x", "'..'");
  ExpectRefused("a/../../x", "'..'");
  ExpectRefused("a/..", "'..'");
  ExpectRefused("a/../b", "'..'");
  ExpectRefused("a/b/..//", "'..'");
  ExpectRefused("./..", "'..'");
}

TEST(ArtifactPathTest, RefusesAbsolutePaths) {
  ExpectRefused("/etc/passwd", "absolute");
  ExpectRefused("/", "absolute");
  ExpectRefused("//server/share", "absolute");
}

TEST(ArtifactPathTest, RefusesNulAndControlCharacters) {
  ExpectRefused(std::string("a/\0b", 4), "NUL");
  ExpectRefused(std::string("\0", 1), "NUL");
  ExpectRefused(std::string("x.txt\0../../etc/passwd", 22), "NUL");
  ExpectRefused("a\nb", "control character");
  ExpectRefused("a\tb", "control character");
  ExpectRefused("a\x7f", "control character");
  ExpectRefused("a\rb", "control character");
}

TEST(ArtifactPathTest, RefusesBackslashesAndDriveLetters) {
  ExpectRefused("a\\b", "backslash");
  ExpectRefused("..\\..\\x", "backslash");
  ExpectRefused("\\\\server\\share", "backslash");
  ExpectRefused("C:/Windows", "drive letter");
  ExpectRefused("c:x", "drive letter");
  ExpectRefused("Z:", "drive letter");
  ExpectRefused("./C:/x", "drive letter");
}

TEST(ArtifactPathTest, RefusesHash) { ExpectRefused("a#b", "'#'"); }

TEST(ArtifactPathTest, RefusesTraversalHiddenByPercentEncoding) {
  ExpectRefused("%2e%2e/x", "after percent-decoding, it contains a '..' component");
  ExpectRefused("a/%2E%2E/%2e%2e/x", "after percent-decoding");
  ExpectRefused("%252e%252e/x", "after percent-decoding");
  ExpectRefused("%2fetc/passwd", "absolute");
  ExpectRefused("a%5c..%5cx", "backslash");
  ExpectRefused("a%00b", "NUL");
  ExpectRefused("a%23b", "'#'");
  ExpectRefused("..%2fx", "'..'");
}

TEST(ArtifactPathTest, RefusesEndlessPercentEncoding) {
  // "%25" decodes to "%", so each level of "25" peels off one round: 11 rounds is too many.
  std::string raw = "%";
  for (int round = 0; round < 11; ++round) {
    raw += "25";
  }
  raw += "41";
  ExpectRefused(raw, "too many levels of percent-encoding");
  // Nine rounds that change something are fine, as in MLflow's `_decode`.
  std::string nine = "%";
  for (int round = 0; round < 8; ++round) {
    nine += "25";
  }
  nine += "41";
  EXPECT_EQ(Normalised(nine), nine);
  ExpectRefused("%" + std::string("25") + nine.substr(1), "too many levels");
}

TEST(ArtifactPathTest, RefusesInvalidUtf8) {
  ExpectRefused("a\xff", "UTF-8");
  ExpectRefused("\xc3", "UTF-8");              // Truncated sequence.
  ExpectRefused("\xc0\xaf", "UTF-8");          // Overlong '/'.
  ExpectRefused("\xed\xa0\x80", "UTF-8");      // Surrogate.
  ExpectRefused("\xf4\x90\x80\x80", "UTF-8");  // Above U+10FFFF.
}

TEST(ArtifactPathTest, RefusesReservedUploadNames) {
  ExpectRefused(".mltf-upload-0123456789abcdef", "reserved");
  ExpectRefused("a/.mltf-upload-x/b", "reserved");
  EXPECT_EQ(Normalised("a/.mltf-uploads"), "a/.mltf-uploads");
}

TEST(ArtifactPathTest, RefusesOverlongPaths) {
  EXPECT_EQ(Normalised(std::string(kMaxArtifactNameLength, 'n')).size(), kMaxArtifactNameLength);
  ExpectRefused(std::string(kMaxArtifactNameLength + 1, 'n'), "longer than 255 bytes");

  std::string deep;
  for (std::size_t idx = 0; idx <= kMaxArtifactPathDepth; ++idx) {
    deep += "d/";
  }
  ExpectRefused(deep, "more than 256 components");

  std::string long_path;
  while (long_path.size() <= kMaxArtifactPathLength) {
    long_path += std::string(100, 'x') + "/";
  }
  ExpectRefused(long_path, "longer than 4096 bytes");
}

TEST(ArtifactPathTest, MessagesQuoteHostileTextSafely) {
  auto path = ArtifactPath::Parse(std::string("a\0b\n", 4));
  ASSERT_FALSE(path.has_value());
  EXPECT_THAT(path.error().message, HasSubstr("'a\\x00b\\x0a'"));

  auto invalid = ArtifactPath::Parse("bad\xff");
  ASSERT_FALSE(invalid.has_value());
  EXPECT_THAT(invalid.error().message, HasSubstr("'bad\\xff'"));

  auto long_one = ArtifactPath::Parse(std::string(10000, 'y') + "/../x");
  ASSERT_FALSE(long_one.has_value());
  EXPECT_LT(long_one.error().message.size(), 400U);
  EXPECT_THAT(long_one.error().message, HasSubstr("..."));

  // Cut text is still UTF-8 (two-byte characters, cut at an odd offset otherwise).
  std::string accents;
  for (int idx = 0; idx < 300; ++idx) {
    accents += "\u00e9";
  }
  auto cut = ArtifactPath::Parse("x" + accents + "/../y");
  ASSERT_FALSE(cut.has_value());
  auto reparsed = ArtifactPath::Parse(cut.error().message);
  ASSERT_FALSE(reparsed.has_value());  // Too long a name, but valid UTF-8.
  EXPECT_THAT(reparsed.error().message, Not(HasSubstr("UTF-8")));
}

TEST(ArtifactPathTest, ChildAppendsOneComponent) {
  ArtifactPath root;
  EXPECT_EQ(root.Child("a").str(), "a");
  auto path = ArtifactPath::Parse("a/b");
  ASSERT_TRUE(path.has_value());
  const ArtifactPath child = path->Child("c.txt");
  EXPECT_EQ(child.str(), "a/b/c.txt");
  EXPECT_EQ(child.Name(), "c.txt");
  EXPECT_EQ(child, *ArtifactPath::Parse("a/b/c.txt"));
}

}  // namespace
}  // namespace mltf::artifacts
