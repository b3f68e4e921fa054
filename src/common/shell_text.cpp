// shell_text.cpp - shell quoting and the checks of text bound for shells and messages.
#include "common/shell_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace mltf {
namespace {

bool IsAsciiLetter(char chr) { return (chr >= 'a' && chr <= 'z') || (chr >= 'A' && chr <= 'Z'); }
bool IsAsciiDigit(char chr) { return chr >= '0' && chr <= '9'; }

}  // namespace

std::string ShellQuote(std::string_view text) {
  if (text.empty()) return "''";
  const auto safe = [](char chr) {
    return IsAsciiLetter(chr) || IsAsciiDigit(chr) ||
           std::string_view("_@%+=:,./-").find(chr) != std::string_view::npos;
  };
  if (std::all_of(text.begin(), text.end(), safe)) return std::string(text);
  std::string out = "'";
  for (char chr : text) {
    if (chr == '\'') {
      out += "'\"'\"'";
    } else {
      out += chr;
    }
  }
  out += '\'';
  return out;
}

bool IsShellIdentifier(std::string_view name) {
  if (name.empty() || IsAsciiDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char chr) {
    return IsAsciiLetter(chr) || IsAsciiDigit(chr) || chr == '_';
  });
}

std::optional<unsigned char> FindControlCharacter(std::string_view text) {
  for (const char chr : text) {
    const auto byte = static_cast<unsigned char>(chr);
    if (byte < 0x20 || byte == 0x7f) return byte;
  }
  return std::nullopt;
}

std::string QuoteForMessage(std::string_view text, std::size_t max_length) {
  std::string quoted;
  for (const char chr : text.substr(0, std::min(text.size(), max_length))) {
    const auto byte = static_cast<unsigned char>(chr);
    if (byte < 0x20 || byte >= 0x7f) {
      quoted += fmt::format("\\x{:02x}", byte);
    } else {
      quoted += chr;
    }
  }
  if (text.size() > max_length) quoted += "...";
  return quoted;
}

}  // namespace mltf
