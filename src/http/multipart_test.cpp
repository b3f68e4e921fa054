// multipart_test.cpp - the streaming multipart/form-data reader and Content-Type boundary parsing.
#include "http/multipart.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mltf::http {
namespace {

using namespace std::string_literals;

// A body held in a string, handed out at most `chunk` bytes per Read.
class StringBodyReader : public BodyReader {
 public:
  StringBodyReader(std::string body, std::size_t chunk) : body_(std::move(body)), chunk_(chunk) {}

  Result<std::size_t> Read(std::span<char> buffer) override {
    if (fail_at_ && offset_ >= *fail_at_) {
      return tl::unexpected(Error::BadRequest("connection reset"));
    }
    const std::size_t count = std::min({chunk_, buffer.size(), body_.size() - offset_});
    std::copy_n(body_.data() + offset_, count, buffer.data());
    offset_ += count;
    return count;
  }
  [[nodiscard]] std::optional<std::uint64_t> ContentLength() const override { return body_.size(); }

  [[nodiscard]] std::size_t offset() const { return offset_; }
  void FailAt(std::size_t offset) { fail_at_ = offset; }

 private:
  std::string body_;
  std::size_t chunk_;
  std::size_t offset_ = 0;
  std::optional<std::size_t> fail_at_;
};

struct ParsedPart {
  MultipartPart headers;
  std::string content;
};

// Reads every part of `body`, each through reads of `read_size` bytes.
Result<std::vector<ParsedPart>> ParseAll(const std::string& body, const std::string& boundary,
                                         std::size_t chunk, std::size_t read_size = 4096,
                                         MultipartLimits limits = {}) {
  StringBodyReader reader(body, chunk);
  MultipartReader multipart(reader, boundary, limits);
  std::vector<ParsedPart> parts;
  std::vector<char> buffer(read_size);
  while (true) {
    MLTF_ASSIGN_OR_RETURN(next, multipart.NextPart());
    if (!next) {
      return parts;
    }
    ParsedPart part{*next, {}};
    while (true) {
      MLTF_ASSIGN_OR_RETURN(count, multipart.Read(buffer));
      if (count == 0) {
        break;
      }
      part.content.append(buffer.data(), count);
    }
    parts.push_back(std::move(part));
  }
}

// What the message of a failed parse says, or "" if it succeeded.
std::string ErrorOf(const std::string& body, const std::string& boundary, std::size_t chunk = 1,
                    MultipartLimits limits = {}) {
  auto parts = ParseAll(body, boundary, chunk, 4096, limits);
  if (parts) {
    return "";
  }
  EXPECT_EQ(parts.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  return parts.error().message;
}

const std::string kBoundary = "a3f1c8e07b2d4f6a9e1c3b5d7f9a0c2e";

// Binary content with everything a naive parser trips on: CR/LF, "--" runs, the boundary not
// preceded by CRLF, a CRLF "--" followed by a boundary prefix, and NUL bytes.
const std::string kTarball = "\x1f\x8b\x08\x00\r\n--\r\n\r\n--a3f1c8\0\0\r--"s + kBoundary +
                             "\n--" + kBoundary + "\r\n-" + kBoundary + "\xff\r\n\r"s;

// What Python's requests (urllib3's encode_multipart_formdata) sends for
// `requests.post(url, data={...}, files={"tarball": ("project.tar.gz", f)})`.
std::string RequestsBody() {
  std::string body;
  const auto field = [&](const std::string& name, const std::string& value) {
    body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
  };
  field("run_id", "5f0c3c1e2a6b4d8e9f00112233445566");
  field("entry_point", "main");
  field("params", R"({"alpha": "0.5", "epochs": "3"})");
  field("backend_config", R"({"gpus": 2, "partition": "a100"})");
  field("tracking_uri", "http://mltf.example:5000");
  field("experiment_id", "1");
  body += "--" + kBoundary +
          "\r\nContent-Disposition: form-data; name=\"tarball\"; filename=\"project.tar.gz\"\r\n"
          "\r\n" +
          kTarball + "\r\n--" + kBoundary + "--\r\n";
  return body;
}

TEST(MultipartReader, ReadsWhatPythonRequestsSends) {
  auto parts = ParseAll(RequestsBody(), kBoundary, std::size_t{64} * 1024);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 7u);
  EXPECT_EQ((*parts)[0].headers.name, "run_id");
  EXPECT_EQ((*parts)[0].content, "5f0c3c1e2a6b4d8e9f00112233445566");
  EXPECT_EQ((*parts)[0].headers.filename, "");
  EXPECT_EQ((*parts)[0].headers.content_type, "");
  EXPECT_EQ((*parts)[1].content, "main");
  EXPECT_EQ((*parts)[2].headers.name, "params");
  EXPECT_EQ((*parts)[2].content, R"({"alpha": "0.5", "epochs": "3"})");
  EXPECT_EQ((*parts)[3].headers.name, "backend_config");
  EXPECT_EQ((*parts)[4].content, "http://mltf.example:5000");
  EXPECT_EQ((*parts)[5].headers.name, "experiment_id");
  EXPECT_EQ((*parts)[5].content, "1");
  EXPECT_EQ((*parts)[6].headers.name, "tarball");
  EXPECT_EQ((*parts)[6].headers.filename, "project.tar.gz");
  EXPECT_EQ((*parts)[6].content, kTarball);
}

TEST(MultipartReader, EveryChunkAndReadSizeGivesTheSameParts) {
  const std::string body = RequestsBody();
  auto expected = ParseAll(body, kBoundary, body.size());
  ASSERT_TRUE(expected);
  std::vector<std::size_t> chunks;
  for (std::size_t chunk = 1; chunk <= 80; ++chunk) {
    chunks.push_back(chunk);
  }
  chunks.insert(chunks.end(), {127, 1000, 4096, 8191, 8192, 100000});
  for (std::size_t chunk : chunks) {
    for (std::size_t read_size : {1u, 7u, 4096u}) {
      auto parts = ParseAll(body, kBoundary, chunk, read_size);
      ASSERT_TRUE(parts) << "chunk " << chunk << ": " << parts.error().message;
      ASSERT_EQ(parts->size(), expected->size()) << "chunk " << chunk;
      for (std::size_t idx = 0; idx < parts->size(); ++idx) {
        EXPECT_EQ((*parts)[idx].headers.name, (*expected)[idx].headers.name);
        EXPECT_EQ((*parts)[idx].headers.filename, (*expected)[idx].headers.filename);
        EXPECT_EQ((*parts)[idx].content, (*expected)[idx].content)
            << "chunk " << chunk << " read " << read_size << " part " << idx;
      }
    }
  }
}

std::string RandomBinary(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t state = 12345;
  for (std::size_t idx = 0; idx < size; ++idx) {
    state = state * 1664525u + 1013904223u;
    // Mostly CR, LF and '-' so that near-delimiters are everywhere.
    constexpr std::array<char, 8> kAlphabet = {'\r', '\n', '-', '-', 'a', '3', '\0', '\xff'};
    data[idx] = kAlphabet[(state >> 24) % kAlphabet.size()];
  }
  return data;
}

TEST(MultipartReader, StreamsALargePartThroughBoundedMemory) {
  const std::string payload = RandomBinary(std::size_t{5} * 1024 * 1024);
  const std::string body = "--" + kBoundary +
                           "\r\nContent-Disposition: form-data; name=\"tarball\"; "
                           "filename=\"p.tar.gz\"\r\nContent-Type: application/gzip\r\n\r\n" +
                           payload + "\r\n--" + kBoundary + "--\r\n";
  for (std::size_t chunk : {1u, 977u, 65536u}) {
    StringBodyReader reader(body, chunk);
    MultipartReader multipart(reader, kBoundary);
    auto part = multipart.NextPart();
    ASSERT_TRUE(part && *part);
    EXPECT_EQ((*part)->content_type, "application/gzip");
    std::string received;
    std::array<char, 100> buffer{};
    while (true) {
      auto count = multipart.Read(buffer);
      ASSERT_TRUE(count) << count.error().message;
      if (*count == 0) {
        break;
      }
      received.append(buffer.data(), *count);
      // The reader never runs ahead of the caller by more than its fixed buffer.
      ASSERT_LE(reader.offset(),
                200 + received.size() + std::size_t{8} * 1024 + kBoundary.size() + 4);
    }
    EXPECT_TRUE(received == payload) << "chunk " << chunk;
    auto end = multipart.NextPart();
    ASSERT_TRUE(end);
    EXPECT_FALSE(end->has_value());
  }
}

TEST(MultipartReader, RandomNearDelimiterContentRoundTrips) {
  // Contents drawn from the delimiter's own bytes, so partial delimiters are everywhere.
  std::uint32_t state = 777;
  const auto next = [&state](std::uint32_t bound) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % bound;
  };
  const std::string delimiter = "\r\n--bb";
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> contents(1 + next(4));
    std::string body = next(2) == 0 ? "" : "pre\r\n-bb\r\n";
    for (auto& content : contents) {
      do {
        content.clear();
        const std::size_t size = next(40);
        for (std::size_t idx = 0; idx < size; ++idx) {
          content += "\r\n-bx\0"[next(6)];
        }
      } while (content.find(delimiter) != std::string::npos);
      body += (body.empty() ? "--bb" : "\r\n--bb") +
              "\r\nContent-Disposition: form-data; name=f\r\n\r\n"s + content;
    }
    body += "\r\n--bb--";
    const std::size_t chunk = 1 + next(12);
    auto parts = ParseAll(body, "bb", chunk, 1 + next(9));
    ASSERT_TRUE(parts) << "round " << round << ": " << parts.error().message;
    ASSERT_EQ(parts->size(), contents.size()) << "round " << round;
    for (std::size_t idx = 0; idx < contents.size(); ++idx) {
      EXPECT_EQ((*parts)[idx].content, contents[idx]) << "round " << round << " part " << idx;
    }
  }
}

TEST(MultipartReader, SkipsUnreadAndHalfReadParts) {
  StringBodyReader reader(RequestsBody(), 5);
  MultipartReader multipart(reader, kBoundary);
  std::vector<std::string> names;
  std::array<char, 3> buffer{};
  while (true) {
    auto part = multipart.NextPart();
    ASSERT_TRUE(part) << part.error().message;
    if (!*part) {
      break;
    }
    names.push_back((*part)->name);
    if ((*part)->name == "params") {
      auto count = multipart.Read(buffer);
      ASSERT_TRUE(count);
      EXPECT_EQ(std::string(buffer.data(), *count), R"({"a)");
    }
    if ((*part)->name == "experiment_id") {
      auto text = multipart.ReadText(10);
      ASSERT_TRUE(text);
      EXPECT_EQ(*text, "1");
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"run_id", "entry_point", "params", "backend_config",
                                             "tracking_uri", "experiment_id", "tarball"}));
  // After the end everything stays at the end.
  auto again = multipart.NextPart();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  auto count = multipart.Read(buffer);
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 0u);
}

TEST(MultipartReader, ReadTextEnforcesItsLimit) {
  StringBodyReader reader(RequestsBody(), 3);
  MultipartReader multipart(reader, kBoundary);
  ASSERT_TRUE(multipart.NextPart());
  auto exact = multipart.ReadText(32);  // run_id is 32 characters
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->size(), 32u);
  ASSERT_TRUE(multipart.NextPart());
  ASSERT_TRUE(multipart.NextPart());
  auto too_long = multipart.ReadText(10);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(too_long.error().message.find("longer than 10 bytes"), std::string::npos);
}

TEST(MultipartReader, IgnoresPreambleEpilogueAndTransportPadding) {
  const std::string body =
      "This is a preamble. --b is not a delimiter here.\r\n--b \t\r\n"
      "content-disposition: FORM-DATA; NAME=x\r\n\r\none\r\n--b\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--b--  \r\nepilogue --b\r\n";
  for (std::size_t chunk : {1u, 2u, 3u, 1000u}) {
    auto parts = ParseAll(body, "b", chunk);
    ASSERT_TRUE(parts) << parts.error().message;
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].headers.name, "x");
    EXPECT_EQ((*parts)[0].content, "one");
    EXPECT_EQ((*parts)[1].headers.name, "empty");
    EXPECT_EQ((*parts)[1].content, "");
  }
}

TEST(MultipartReader, AnEmptyFormHasNoParts) {
  auto parts = ParseAll("--b--", "b", 1);
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_TRUE(parts->empty());
}

TEST(MultipartReader, ParsesDispositionParameters) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data ; name=\"a \\\"q\\\" \\\\ b\"; "
      "filename*=UTF-8''..%2Fetc%2Fpasswd; filename=\"../../etc/passwd\"\r\n"
      "X-Other: ignored\r\n\r\ndata\r\n--b--\r\n";
  auto parts = ParseAll(body, "b", 4);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].headers.name, "a \"q\" \\ b");
  // Reported as sent: callers must never use it as a path.
  EXPECT_EQ((*parts)[0].headers.filename, "../../etc/passwd");
}

TEST(MultipartReader, RejectsABodyWithoutTheBoundary) {
  EXPECT_NE(ErrorOf("just some text\r\n--other\r\n", "b").find("does not contain the boundary"),
            std::string::npos);
  EXPECT_NE(ErrorOf("", "b").find("does not contain the boundary"), std::string::npos);
  // Not preceded by CRLF (and not at the start): not a delimiter.
  EXPECT_NE(ErrorOf("x--b\r\n", "b").find("does not contain"), std::string::npos);
}

TEST(MultipartReader, RejectsATruncatedBody) {
  const std::string body = RequestsBody();
  const std::string cut_in_content = body.substr(0, body.size() - 20);
  const std::string cut_after_boundary = body.substr(0, body.size() - 4);
  const std::string cut_in_headers = body.substr(0, body.find("name=\"tarball\""));
  for (const auto& truncated : {cut_in_content, cut_after_boundary, cut_in_headers}) {
    for (std::size_t chunk : {1u, 7u, 100000u}) {
      const std::string message = ErrorOf(truncated, kBoundary, chunk);
      EXPECT_NE(message.find("ended"), std::string::npos) << message;
    }
  }
  // A body that stops after the last part's content without any closing boundary.
  EXPECT_NE(ErrorOf("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc", "b").find("ended"),
            std::string::npos);
}

TEST(MultipartReader, RejectsMalformedHeaders) {
  const auto with_headers = [](const std::string& headers) {
    return "--b\r\n" + headers + "\r\ncontent\r\n--b--\r\n";
  };
  EXPECT_NE(
      ErrorOf(with_headers("Content-Disposition form-data; name=x\r\n"), "b").find("without ':'"),
      std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Type: text/plain\r\n"), "b")
                .find("without a Content-Disposition"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: attachment; name=x\r\n"), "b")
                .find("must be 'form-data'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data; filename=x\r\n"), "b")
                .find("no 'name'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data\r\n"), "b").find("no 'name'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data; name=\"x\r\n"), "b")
                .find("unterminated"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data; name=x; name=y\r\n"), "b")
                .find("given twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data; name=x\r\n"
                                 "Content-Disposition: form-data; name=y\r\n"),
                    "b")
                .find("two Content-Disposition"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Content-Disposition: form-data; name=x\r\n continued\r\n"), "b")
                .find("folded"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with_headers("Bad Name: x\r\nContent-Disposition: form-data; name=x\r\n"), "b")
                .find("invalid part header name"),
            std::string::npos);
  // Text after the boundary on its line means the boundary occurs in content.
  EXPECT_NE(ErrorOf("--bx\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--b--", "b")
                .find("followed by other text"),
            std::string::npos);
}

TEST(MultipartReader, RejectsAHeaderBlockOverTheLimit) {
  const std::string big =
      "--b\r\nContent-Disposition: form-data; name=x\r\nX-Pad: " + std::string(20000, 'p') +
      "\r\n\r\nv\r\n--b--\r\n";
  EXPECT_NE(ErrorOf(big, "b", 4096).find("longer than 16384 bytes"), std::string::npos);
  // A header block without any line end is refused as soon as it passes the limit.
  const std::string endless = "--b\r\nX-Pad: " + std::string(1 << 20, 'p');
  EXPECT_NE(ErrorOf(endless, "b", 4096).find("longer than"), std::string::npos);
  // Just under the limit is fine; the limit counts line ends.
  MultipartLimits limits;
  const std::string disposition = "Content-Disposition: form-data; name=x\r\n\r\n";
  limits.max_header_bytes = disposition.size();
  EXPECT_EQ(ErrorOf("--b\r\n" + disposition + "v\r\n--b--", "b", 1, limits), "");
  limits.max_header_bytes = disposition.size() - 1;
  EXPECT_NE(ErrorOf("--b\r\n" + disposition + "v\r\n--b--", "b", 1, limits).find("longer than"),
            std::string::npos);
}

TEST(MultipartReader, RejectsTooManyParts) {
  std::string body;
  for (int idx = 0; idx < 4; ++idx) {
    body += "--b\r\nContent-Disposition: form-data; name=f\r\n\r\nv\r\n";
  }
  body += "--b--\r\n";
  MultipartLimits limits;
  limits.max_parts = 4;
  EXPECT_EQ(ErrorOf(body, "b", 3, limits), "");
  limits.max_parts = 3;
  EXPECT_NE(ErrorOf(body, "b", 3, limits).find("more than 3 parts"), std::string::npos);
}

TEST(MultipartReader, RejectsAnInvalidBoundary) {
  EXPECT_NE(ErrorOf("--\r\n", "").find("1 to 70"), std::string::npos);
  const std::string long_boundary(71, 'x');
  EXPECT_NE(ErrorOf("--" + long_boundary + "--", long_boundary).find("1 to 70"), std::string::npos);
}

TEST(MultipartReader, ErrorsAreStickyAndBodyErrorsPassThrough) {
  StringBodyReader reader(RequestsBody(), 10);
  reader.FailAt(150);
  MultipartReader multipart(reader, kBoundary);
  Result<std::optional<MultipartPart>> part;
  do {
    part = multipart.NextPart();
  } while (part && *part);
  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::BAD_REQUEST);
  EXPECT_EQ(part.error().message, "connection reset");
  std::array<char, 8> buffer{};
  auto count = multipart.Read(buffer);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().message, "connection reset");
}

TEST(MultipartBoundary, ParsesQuotedUnquotedAndAfterOtherParameters) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=" + kBoundary), kBoundary);
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data;BOUNDARY=\"a b:c/d=e?\""), "a b:c/d=e?");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; charset=utf-8; boundary=xyz"), "xyz");
  EXPECT_EQ(MultipartBoundary("  multipart/form-data ;boundary=\"----WebKitForm'()+_,-./:=?\" "),
            "----WebKitForm'()+_,-./:=?");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=" + std::string(70, 'z')),
            std::string(70, 'z'));
}

TEST(MultipartBoundary, RejectsOtherTypesAndBadBoundaries) {
  const auto message = [](std::string_view content_type) {
    auto boundary = MultipartBoundary(content_type);
    EXPECT_FALSE(boundary) << content_type;
    if (boundary) {
      return std::string();
    }
    EXPECT_EQ(boundary.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    return boundary.error().message;
  };
  EXPECT_NE(message("application/json").find("must be multipart/form-data"), std::string::npos);
  EXPECT_NE(message("").find("must be multipart/form-data"), std::string::npos);
  EXPECT_NE(message("multipart/mixed; boundary=x").find("must be multipart/form-data"),
            std::string::npos);
  EXPECT_NE(message("multipart/form-data").find("no boundary"), std::string::npos);
  EXPECT_NE(message("multipart/form-data; charset=utf-8").find("no boundary"), std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=\"\"").find("1 to 70"), std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=" + std::string(71, 'z')).find("1 to 70"),
            std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=\"ends in space \"").find("does not allow"),
            std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=\"semi;colon\"").find("does not allow"),
            std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=").find("empty value"), std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=\"unterminated").find("unterminated"),
            std::string::npos);
  EXPECT_NE(message("multipart/form-data; boundary=a; boundary=b").find("given twice"),
            std::string::npos);
}

}  // namespace
}  // namespace mltf::http
