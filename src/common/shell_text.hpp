// shell_text.hpp - text that goes into a shell command or a message: quoting and checks shared
// by the MLproject renderer, the resource parser and the SLURM batch script.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mltf {

/// `text` quoted for a POSIX shell exactly as Python's shlex.quote does: unchanged if it is made
/// only of letters, digits and `@%+=:,./_-` (and not empty), else in single quotes with every
/// `'` written as `'"'"'`. The result is one word whose value is `text`. Does not fail.
std::string ShellQuote(std::string_view text);

/// A valid shell variable name: a letter or `_`, then letters, digits and `_`. Does not fail.
bool IsShellIdentifier(std::string_view name);

/// The first control character of `text` (below 0x20, or DEL), if any. Does not fail.
std::optional<unsigned char> FindControlCharacter(std::string_view text);

/// Client text made safe to quote in a message: control and non-ASCII bytes become `\xNN`, and
/// text beyond `max_length` is cut with "...". Does not fail.
std::string QuoteForMessage(std::string_view text, std::size_t max_length = 80);

}  // namespace mltf
