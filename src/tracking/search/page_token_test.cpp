// page_token_test.cpp - table-driven tests of page token encoding and strict decoding.
#include "tracking/search/page_token.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>

namespace mltf::tracking::search {
namespace {

struct TokenCase {
  std::string name;
  std::int64_t offset;
  std::string token;
};

// Names the ctest entry (CMake appends the printed parameter).
void PrintTo(const TokenCase& test_case, std::ostream* os) { *os << test_case.name; }

class PageTokenEncodes : public testing::TestWithParam<TokenCase> {};

TEST_P(PageTokenEncodes, LikeMlflowAndRoundTrips) {
  EXPECT_EQ(EncodePageToken(GetParam().offset), GetParam().token);
  auto decoded = DecodePageToken(GetParam().token);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, GetParam().offset);
}

INSTANTIATE_TEST_SUITE_P(
    search, PageTokenEncodes,
    testing::Values(
        // Tokens returned by MLflow 2.9.2 in ../shared/conformance (runs and experiments).
        TokenCase{"conformance_offset_1", 1, "eyJvZmZzZXQiOiAxfQ=="},
        TokenCase{"conformance_offset_2", 2, "eyJvZmZzZXQiOiAyfQ=="},
        TokenCase{"conformance_offset_3", 3, "eyJvZmZzZXQiOiAzfQ=="},
        TokenCase{"conformance_offset_4", 4, "eyJvZmZzZXQiOiA0fQ=="},
        // base64.b64encode(json.dumps({"offset": n}).encode()) for other paddings.
        TokenCase{"offset_10", 10, "eyJvZmZzZXQiOiAxMH0="},
        TokenCase{"offset_100", 100, "eyJvZmZzZXQiOiAxMDB9"},
        TokenCase{"offset_50000", 50000, "eyJvZmZzZXQiOiA1MDAwMH0="},
        TokenCase{"offset_int64_max", std::numeric_limits<std::int64_t>::max(),
                  "eyJvZmZzZXQiOiA5MjIzMzcyMDM2ODU0Nzc1ODA3fQ=="}));

struct DecodeCase {
  std::string name;
  std::string token;
  std::int64_t offset;
};

void PrintTo(const DecodeCase& test_case, std::ostream* os) { *os << test_case.name; }

class PageTokenDecodes : public testing::TestWithParam<DecodeCase> {};

TEST_P(PageTokenDecodes, ToOffset) {
  auto decoded = DecodePageToken(GetParam().token);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, GetParam().offset);
}

INSTANTIATE_TEST_SUITE_P(
    search, PageTokenDecodes,
    testing::Values(DecodeCase{"empty_is_first_page", "", 0},
                    // {"offset":7} without the space.
                    DecodeCase{"compact_json", "eyJvZmZzZXQiOjd9", 7},
                    // {"other": 1, "offset": 5}: other keys are ignored, as in MLflow.
                    DecodeCase{"extra_keys", "eyJvdGhlciI6IDEsICJvZmZzZXQiOiA1fQ==", 5}));

struct RejectCase {
  std::string name;
  std::string token;
  std::string message_part;
};

void PrintTo(const RejectCase& test_case, std::ostream* os) { *os << test_case.name; }

class PageTokenRejects : public testing::TestWithParam<RejectCase> {};

TEST_P(PageTokenRejects, WithInvalidParameterValue) {
  auto decoded = DecodePageToken(GetParam().token);
  ASSERT_FALSE(decoded) << "decoded to " << *decoded;
  EXPECT_EQ(decoded.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(decoded.error().message.find("Invalid page token"), std::string::npos);
  EXPECT_NE(decoded.error().message.find(GetParam().message_part), std::string::npos)
      << decoded.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, PageTokenRejects,
    testing::Values(
        RejectCase{"not_base64", "not a token!", "could not base64-decode"},
        RejectCase{"missing_padding", "eyJvZmZzZXQiOiAyfQ", "could not base64-decode"},
        RejectCase{"url_safe_alphabet", "eyJvZmZzZXQiOiAyfQ-_", "could not base64-decode"},
        RejectCase{"padding_in_middle", "eyJv=mZzZXQiOiAyfQ==", "could not base64-decode"},
        RejectCase{"triple_padding", "eyJvZmZzZXQiOiAyf===", "could not base64-decode"},
        RejectCase{"stray_bits", "eyJvZmZzZXQiOiAyfR==", "could not base64-decode"},
        RejectCase{"whitespace", " eyJvZmZzZXQiOiAyfQ==", "could not base64-decode"},
        // base64 of "hello"
        RejectCase{"not_json", "aGVsbG8=", "could not parse"},
        // base64 of [1]
        RejectCase{"json_array", "WzFd", "not a JSON object"},
        // base64 of {"offset": 2} followed by "x"
        RejectCase{"trailing_garbage", "eyJvZmZzZXQiOiAyfXg=", "could not parse"},
        // base64 of {}
        RejectCase{"no_offset", "e30=", "no offset"},
        // base64 of {"offset": 0}: MLflow rejects a zero offset too
        RejectCase{"zero_offset", "eyJvZmZzZXQiOiAwfQ==", "not positive"},
        // base64 of {"offset": -5}
        RejectCase{"negative_offset", "eyJvZmZzZXQiOiAtNX0=", "not positive"},
        // base64 of {"offset": "5"}
        RejectCase{"string_offset", "eyJvZmZzZXQiOiAiNSJ9", "not an integer"},
        // base64 of {"offset": 2.5}
        RejectCase{"fractional_offset", "eyJvZmZzZXQiOiAyLjV9", "not an integer"},
        // base64 of {"offset": true}
        RejectCase{"boolean_offset", "eyJvZmZzZXQiOiB0cnVlfQ==", "not an integer"},
        // base64 of {"offset": 99999999999999999999}: simdjson refuses such numbers
        RejectCase{"offset_overflow",
                   "eyJvZmZzZXQiOiA5OTk5OTk5OTk5OTk5OTk5OTk5OX0=", "could not parse"},
        RejectCase{"too_long", std::string(2000, 'A'), "too long"}));

}  // namespace
}  // namespace mltf::tracking::search
