// filter_parser_fuzz.cpp - libFuzzer target for the search filter, order_by and page token
// parsers and the SQL compiler behind them.
//
// The whole input goes to every parser. When it contains a newline, the first line is also
// parsed as a filter and each further line as an order_by clause, and the pair is compiled
// together. Besides crashes and sanitizer reports, these invariants abort the run:
// - whatever a parser accepts, the SQL compiler accepts;
// - every compiled fragment has exactly as many `?` as bound values (values never reach the
//   SQL text, and the fixed SQL text has no `?` of its own);
// - a decoded page token re-encodes to a token that decodes to the same offset.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tracking/search/filter_parser.hpp"
#include "tracking/search/order_by.hpp"
#include "tracking/search/page_token.hpp"
#include "tracking/store/sql/search_sql.hpp"

namespace {

namespace search = mltf::tracking::search;
namespace sql = mltf::tracking::store::sql;

void Require(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void CheckFragment(const sql::SqlFragment& fragment) {
  std::size_t placeholders = 0;
  for (char c : fragment.sql) {
    placeholders += c == '?' ? 1 : 0;
  }
  Require(placeholders == fragment.params.size());
}

void CheckCompiled(const mltf::Result<sql::CompiledSearch>& compiled) {
  Require(compiled.has_value());
  CheckFragment(compiled->joins);
  CheckFragment(compiled->where);
  CheckFragment(compiled->order_by);
  Require(!compiled->order_by.sql.empty());
}

void FuzzRuns(std::string_view filter_text, const std::vector<std::string>& order_clauses) {
  auto filter = search::ParseRunFilter(filter_text);
  auto order_by = search::ParseRunOrderByList(order_clauses);
  if (filter && order_by) {
    CheckCompiled(sql::CompileRunSearch(*filter, *order_by));
  }
}

void FuzzExperiments(std::string_view filter_text, const std::vector<std::string>& order_clauses) {
  auto filter = search::ParseExperimentFilter(filter_text);
  auto order_by = search::ParseExperimentOrderByList(order_clauses);
  if (filter && order_by) {
    CheckCompiled(sql::CompileExperimentSearch(*filter, *order_by));
  }
}

void FuzzPageToken(std::string_view token) {
  auto offset = search::DecodePageToken(token);
  if (offset && *offset > 0) {
    auto again = search::DecodePageToken(search::EncodePageToken(*offset));
    Require(again.has_value() && *again == *offset);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The whole input as a filter, as an order_by clause, and as a page token.
  FuzzRuns(input, {});
  FuzzExperiments(input, {});
  FuzzRuns("", {std::string(input)});
  FuzzExperiments("", {std::string(input)});
  FuzzPageToken(input);

  // "filter\norder_by\norder_by...": a filter and order_by compiled together.
  const std::size_t newline = input.find('\n');
  if (newline != std::string_view::npos) {
    std::vector<std::string> clauses;
    std::size_t start = newline + 1;
    while (start <= input.size()) {
      const std::size_t end = std::min(input.find('\n', start), input.size());
      clauses.emplace_back(input.substr(start, end - start));
      start = end + 1;
    }
    FuzzRuns(input.substr(0, newline), clauses);
    FuzzExperiments(input.substr(0, newline), clauses);
  }
  return 0;
}
