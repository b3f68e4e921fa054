// project_archive.cpp - MLflow project archives: the member rules, inspection, extraction,
// reproducible packing, and SHA-256.
//
// Every archive comes from a client, so each member passes MemberRules before anything is
// kept or written. Inspection and extraction both read the archive from the start with their
// own MemberRules: extraction never trusts an earlier inspection, as the file may differ.
#include "gateway/projects/project_archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <new>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace mltf::gateway::projects {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;
constexpr std::size_t kMaxNameInMessage = 200;
constexpr std::uint64_t kMaxSymlinkTargetBytes = 4096;

/// Root-level files whose contents LoadProject needs (besides the MLproject and its env file).
constexpr std::array<std::string_view, 3> kSpecFiles = {"python_env.yaml", "conda.yaml",
                                                        "requirements.txt"};

struct ReadArchiveDeleter {
  void operator()(archive* handle) const { archive_read_free(handle); }
};
struct WriteArchiveDeleter {
  void operator()(archive* handle) const { archive_write_free(handle); }
};
struct EntryDeleter {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};
using ReadArchive = std::unique_ptr<archive, ReadArchiveDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteArchiveDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

bool IsControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

bool HasControl(std::string_view text) { return std::any_of(text.begin(), text.end(), IsControl); }

/// A member name fit for an error message: control bytes escaped, long names shortened.
std::string Printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, kMaxNameInMessage)) {
    if (IsControl(c)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  if (name.size() > kMaxNameInMessage) {
    out += "...";
  }
  return out;
}

Error Refuse(std::string_view member, std::string_view rule) {
  return Error::InvalidParameter(
      fmt::format("project archive member '{}' refused: {}", Printable(member), rule));
}

Error NotAnArchive(archive* handle) {
  const char* reason = archive_error_string(handle);
  return Error::InvalidParameter(fmt::format("not a valid tar or tar.gz archive: {}",
                                             reason != nullptr ? reason : "unreadable"));
}

std::string Join(const std::vector<std::string>& components, std::size_t count) {
  std::string out;
  for (std::size_t idx = 0; idx < count; ++idx) {
    if (idx > 0) {
      out += '/';
    }
    out += components[idx];
  }
  return out;
}

/// Splits a relative member name into components, dropping empty and "." ones (so "./a//b/"
/// is "a/b"). Fails, naming the rule, for absolute names and `..` components.
Result<std::vector<std::string>> SplitRelative(std::string_view name, std::string_view member) {
  if (!name.empty() && name.front() == '/') {
    return Fail(Refuse(member, "absolute paths are not allowed"));
  }
  std::vector<std::string> components;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    const std::string_view component = name.substr(start, end - start);
    if (component == "..") {
      return Fail(Refuse(member, "'..' path components are not allowed"));
    }
    if (!component.empty() && component != ".") {
      components.emplace_back(component);
    }
    start = end + 1;
  }
  return components;
}

/// Why a symlink at `link` (components) pointing at `target` is refused, or nullopt.
///
/// The target is resolved lexically from the link's directory. That equals the real
/// resolution because the rules keep every member's parents real directories (nothing lies
/// beneath a symlink, and no symlink replaces a directory) and allow `..` only as leading
/// components: after a name, `..` would undo a component that may itself be a symlink.
/// Forward components may pass through other symlinks, which are all checked the same way.
std::optional<std::string> SymlinkRuleBroken(const std::vector<std::string>& link,
                                             std::string_view target) {
  if (target.empty()) {
    return "symlinks must have a target";
  }
  if (target.size() > kMaxSymlinkTargetBytes || HasControl(target)) {
    return "symlink target is too long or has control characters";
  }
  if (target.front() == '/') {
    return fmt::format("symlink target '{}' is absolute", Printable(target));
  }
  std::size_t depth = link.empty() ? 0 : link.size() - 1;
  bool after_name = false;
  std::size_t start = 0;
  while (start <= target.size()) {
    const std::size_t end = std::min(target.find('/', start), target.size());
    const std::string_view component = target.substr(start, end - start);
    if (component == "..") {
      if (after_name) {
        return fmt::format("symlink target '{}' has '..' after a name (only leading '..' allowed)",
                           Printable(target));
      }
      if (depth == 0) {
        return fmt::format("symlink target '{}' leaves the archive root", Printable(target));
      }
      --depth;
    } else if (!component.empty() && component != ".") {
      after_name = true;
    }
    start = end + 1;
  }
  return std::nullopt;
}

enum class MemberKind { DIRECTORY, FILE, SYMLINK };

std::string_view KindName(MemberKind kind) {
  switch (kind) {
    case MemberKind::DIRECTORY:
      return "directory";
    case MemberKind::FILE:
      return "file";
    case MemberKind::SYMLINK:
      return "symlink";
  }
  return "member";
}

/// A member that passed the rules.
struct Admitted {
  std::string path;  ///< Normalized; "" for the archive root itself ("./").
  std::vector<std::string> components;
  MemberKind kind = MemberKind::FILE;
  std::string hardlink_target;  ///< Normalized, when the member is a hard link.
};

/// The rules every member must pass, in archive order. Not thread-safe.
class MemberRules {
 public:
  explicit MemberRules(const ArchiveLimits& limits) : limits_(limits) {}

  /// Checks one header. Fails with INVALID_PARAMETER_VALUE naming the member and the rule.
  Result<Admitted> Admit(archive_entry* entry) {
    const char* raw_name = archive_entry_pathname(entry);
    const std::string_view name = raw_name != nullptr ? raw_name : "";
    if (++entries_ > limits_.max_entries) {
      return Fail(
          Refuse(name, fmt::format("the archive has more than {} members", limits_.max_entries)));
    }
    if (raw_name == nullptr || name.empty()) {
      return Fail(Refuse(name, "members must have a name"));
    }
    if (name.size() > limits_.max_path_length) {
      return Fail(
          Refuse(name, fmt::format("the name is longer than {} bytes", limits_.max_path_length)));
    }
    if (HasControl(name)) {
      return Fail(Refuse(name, "names must not contain control characters"));
    }
    Admitted admitted;
    MLTF_ASSIGN_OR_RETURN(components, SplitRelative(name, name));
    admitted.components = std::move(components);
    admitted.path = Join(admitted.components, admitted.components.size());
    MLTF_ASSIGN_OR_RETURN(kind, KindOf(entry, name));
    admitted.kind = kind;
    if (admitted.path.empty()) {
      if (kind != MemberKind::DIRECTORY) {
        return Fail(Refuse(name, "only a directory may name the archive root"));
      }
      return admitted;
    }
    MLTF_TRY(CheckParents(admitted, name));
    if (auto seen = kinds_.find(admitted.path); seen != kinds_.end() && seen->second != kind) {
      return Fail(Refuse(name, fmt::format("duplicate member: a {} of that name came before",
                                           KindName(seen->second))));
    }
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      MLTF_ASSIGN_OR_RETURN(target, HardlinkTarget(admitted, link, name));
      admitted.hardlink_target = std::move(target);
    } else if (kind == MemberKind::SYMLINK) {
      const char* target = archive_entry_symlink(entry);
      if (auto broken = SymlinkRuleBroken(admitted.components, target != nullptr ? target : "")) {
        return Fail(Refuse(name, *broken));
      }
    }
    if (kind == MemberKind::FILE) {  // hard links included: pax ones may carry a body
      const la_int64_t size = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : 0;
      if (size < 0) {
        return Fail(Refuse(name, "negative size"));
      }
      declared_bytes_ += static_cast<std::uint64_t>(size);
      if (declared_bytes_ > limits_.max_unpacked_bytes) {
        return Fail(Refuse(name, TooLarge()));
      }
    }
    kinds_[admitted.path] = kind;
    return admitted;
  }

  /// Counts content actually read, so a header that understates its size cannot pass.
  Result<void> CountContent(std::string_view path, std::uint64_t bytes) {
    content_bytes_ += bytes;
    if (content_bytes_ > limits_.max_unpacked_bytes) {
      return Fail(Refuse(path, TooLarge()));
    }
    return {};
  }

  std::uint64_t entries() const { return entries_; }
  std::uint64_t content_bytes() const { return content_bytes_; }

 private:
  std::string TooLarge() const {
    return fmt::format("the unpacked archive would exceed the limit of {} bytes",
                       limits_.max_unpacked_bytes);
  }

  static Result<MemberKind> KindOf(archive_entry* entry, std::string_view name) {
    if (archive_entry_hardlink(entry) != nullptr) {
      return MemberKind::FILE;
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
        return MemberKind::FILE;
      case AE_IFDIR:
        return MemberKind::DIRECTORY;
      case AE_IFLNK:
        return MemberKind::SYMLINK;
      case AE_IFCHR:
        return Fail(Refuse(name, "character devices are not allowed"));
      case AE_IFBLK:
        return Fail(Refuse(name, "block devices are not allowed"));
      case AE_IFIFO:
        return Fail(Refuse(name, "FIFOs are not allowed"));
      case AE_IFSOCK:
        return Fail(Refuse(name, "sockets are not allowed"));
      default:
        return Fail(Refuse(name, "unknown member type"));
    }
  }

  /// Every parent must be a directory (never a file or symlink); records them as such.
  Result<void> CheckParents(const Admitted& admitted, std::string_view name) {
    for (std::size_t count = 1; count < admitted.components.size(); ++count) {
      const std::string parent = Join(admitted.components, count);
      auto [it, inserted] = kinds_.emplace(parent, MemberKind::DIRECTORY);
      if (!inserted && it->second != MemberKind::DIRECTORY) {
        return Fail(Refuse(name, fmt::format("it lies beneath the {} '{}'", KindName(it->second),
                                             Printable(parent))));
      }
    }
    return {};
  }

  Result<std::string> HardlinkTarget(const Admitted& admitted, std::string_view link,
                                     std::string_view name) {
    if (HasControl(link) || link.size() > limits_.max_path_length) {
      return Fail(Refuse(name, "hard link target is too long or has control characters"));
    }
    auto components = SplitRelative(link, name);
    if (!components) {
      return Fail(Refuse(
          name, fmt::format("hard link target '{}' is outside the archive", Printable(link))));
    }
    std::string target = Join(*components, components->size());
    auto seen = kinds_.find(target);
    if (target.empty() || target == admitted.path || seen == kinds_.end()) {
      return Fail(Refuse(
          name, fmt::format("hard link target '{}' is not an earlier member", Printable(link))));
    }
    if (seen->second != MemberKind::FILE) {
      return Fail(Refuse(name, fmt::format("hard link target '{}' is a {}", Printable(link),
                                           KindName(seen->second))));
    }
    return target;
  }

  ArchiveLimits limits_;
  std::map<std::string, MemberKind> kinds_;  // explicit members and implied parents
  std::uint64_t entries_ = 0;
  std::uint64_t declared_bytes_ = 0;
  std::uint64_t content_bytes_ = 0;
};

Result<ReadArchive> OpenForReading(const fs::path& path) {
  ReadArchive reader(archive_read_new());
  if (!reader) {
    throw std::bad_alloc();
  }
  // Only gzip: archive_read_support_filter_all may run external decompressor programs
  // (lrzip, lzop, grzip) on hostile input, and clients send tar or tar.gz only.
  if (archive_read_support_filter_gzip(reader.get()) < ARCHIVE_WARN ||
      archive_read_support_format_tar(reader.get()) != ARCHIVE_OK) {
    return Fail(Error::Internal("libarchive lacks gzip or tar support"));
  }
  if (archive_read_open_filename(reader.get(), path.c_str(), kChunkBytes) != ARCHIVE_OK) {
    return Fail(NotAnArchive(reader.get()));
  }
  return reader;
}

/// The next member's header, nullptr at the end of the archive.
Result<archive_entry*> NextHeader(archive* reader) {
  archive_entry* entry = nullptr;
  const int status = archive_read_next_header(reader, &entry);
  if (status == ARCHIVE_EOF) {
    return nullptr;
  }
  // ARCHIVE_WARN covers recoverable oddities such as names in an unexpected charset.
  if (status < ARCHIVE_WARN || status == ARCHIVE_RETRY) {
    return Fail(NotAnArchive(reader));
  }
  return entry;
}

bool IsMlprojectName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "mlproject";
}

/// One pass over an archive for InspectArchive: checks every member, lists files, and keeps
/// small_files for the paths `wanted` accepts.
Result<ArchiveSummary> Scan(const fs::path& path, const ArchiveLimits& limits,
                            const std::function<bool(const std::string&)>& wanted) {
  MLTF_ASSIGN_OR_RETURN(reader, OpenForReading(path));
  MemberRules rules(limits);
  ArchiveSummary summary;
  std::set<std::string> files;
  std::string buffer(kChunkBytes, '\0');
  while (true) {
    MLTF_ASSIGN_OR_RETURN(entry, NextHeader(reader.get()));
    if (entry == nullptr) {
      break;
    }
    MLTF_ASSIGN_OR_RETURN(member, rules.Admit(entry));
    if (member.kind != MemberKind::FILE) {
      continue;
    }
    files.insert(member.path);
    bool keep = wanted(member.path);
    if (keep && !member.hardlink_target.empty()) {
      // A hard link has no body of its own: it shares its target's, if that was kept.
      auto target = summary.small_files.find(member.hardlink_target);
      if (target != summary.small_files.end()) {
        std::string shared = target->second;
        summary.small_files[member.path] = std::move(shared);
      } else {
        summary.small_files.erase(member.path);
      }
      keep = false;
    }
    std::string content;
    while (true) {
      const la_ssize_t got = archive_read_data(reader.get(), buffer.data(), buffer.size());
      if (got < 0) {
        return Fail(NotAnArchive(reader.get()));
      }
      if (got == 0) {
        break;
      }
      MLTF_TRY(rules.CountContent(member.path, static_cast<std::uint64_t>(got)));
      if (keep && content.size() + static_cast<std::size_t>(got) > limits.max_small_file_bytes) {
        keep = false;
        content.clear();
      }
      if (keep) {
        content.append(buffer.data(), static_cast<std::size_t>(got));
      }
    }
    if (keep) {
      summary.small_files[member.path] = std::move(content);
    } else if (member.hardlink_target.empty()) {
      summary.small_files.erase(member.path);  // a later, larger duplicate replaces it
    }
  }
  summary.entries = rules.entries();
  summary.unpacked_bytes = rules.content_bytes();
  summary.files.assign(files.begin(), files.end());
  return summary;
}

/// The normalized python_env / conda_env path an MLproject names, if it names one sanely.
/// Errors are left to the MLproject parser, which reports them properly.
std::optional<std::string> DeclaredEnvFile(const std::string& mlproject) {
  try {
    const YAML::Node root = YAML::Load(mlproject);
    if (!root.IsMap()) {
      return std::nullopt;
    }
    for (const char* key : {"python_env", "conda_env"}) {
      const YAML::Node node = root[key];
      if (node && node.IsScalar()) {
        auto components = SplitRelative(node.Scalar(), node.Scalar());
        if (components && !components->empty()) {
          return Join(*components, components->size());
        }
      }
    }
  } catch (const std::exception&) {  // YAML errors and allocation failures alike
    return std::nullopt;
  }
  return std::nullopt;
}

std::uint32_t MaskedMode(MemberKind kind, std::uint32_t perm) {
  if (kind == MemberKind::FILE && (perm & 0100U) == 0) {
    return 0644;
  }
  return 0755;
}

Result<void> ExtractInto(const fs::path& path, const fs::path& root, const ArchiveLimits& limits) {
  MLTF_ASSIGN_OR_RETURN(reader, OpenForReading(path));
  WriteArchive writer(archive_write_disk_new());
  if (!writer) {
    throw std::bad_alloc();
  }
  // Member names are joined to the (canonical, symlink-free) destination here, after
  // MemberRules refused absolute and `..` names, so the written paths are absolute and
  // ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS would refuse them all. Its protection is given by
  // MemberRules; NODOTDOT and SYMLINKS stay on as a second line of defence. No OWNER flag:
  // files belong to the server's user.
  const int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                    ARCHIVE_EXTRACT_SECURE_SYMLINKS;
  archive_write_disk_set_options(writer.get(), flags);
  MemberRules rules(limits);
  std::string buffer(kChunkBytes, '\0');
  while (true) {
    MLTF_ASSIGN_OR_RETURN(entry, NextHeader(reader.get()));
    if (entry == nullptr) {
      break;
    }
    MLTF_ASSIGN_OR_RETURN(member, rules.Admit(entry));
    if (member.path.empty()) {
      continue;  // "./": the destination itself
    }
    const fs::path target = root / member.path;
    archive_entry_set_pathname(entry, target.c_str());
    if (!member.hardlink_target.empty()) {
      archive_entry_set_hardlink(entry, (root / member.hardlink_target).c_str());
    }
    archive_entry_set_perm(entry, MaskedMode(member.kind, archive_entry_perm(entry)));
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN) {
      return Fail(Error::Internal(fmt::format("could not extract '{}': {}", Printable(member.path),
                                              archive_error_string(writer.get()))));
    }
    while (true) {
      const la_ssize_t got = archive_read_data(reader.get(), buffer.data(), buffer.size());
      if (got < 0) {
        return Fail(NotAnArchive(reader.get()));
      }
      if (got == 0) {
        break;
      }
      MLTF_TRY(rules.CountContent(member.path, static_cast<std::uint64_t>(got)));
      if (archive_write_data(writer.get(), buffer.data(), static_cast<std::size_t>(got)) != got) {
        return Fail(Error::Internal(fmt::format("could not write '{}': {}", Printable(member.path),
                                                archive_error_string(writer.get()))));
      }
    }
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return Fail(Error::Internal(fmt::format("could not finish '{}': {}", Printable(member.path),
                                              archive_error_string(writer.get()))));
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Fail(Error::Internal(
        fmt::format("could not finish extraction: {}", archive_error_string(writer.get()))));
  }
  return {};
}

/// One member of a directory being packed.
struct PackMember {
  std::string path;
  fs::path source;
  MemberKind kind = MemberKind::FILE;
  std::string link_target;
  bool executable = false;
  std::uint64_t size = 0;
};

bool SkippedName(std::string_view name, bool top_level) {
  return name == ".git" || name == "__pycache__" || name == ".venv" || name == "node_modules" ||
         (top_level && name == "mlruns") || name.ends_with(".pyc");
}

Error PackIoError(std::string_view what, const std::string& path, const std::error_code& ec) {
  return Error::Internal(fmt::format("could not {} '{}': {}", what, Printable(path), ec.message()));
}

/// Lists what PackDirectory packs below `dir` (relative name `prefix`), in sorted order.
Result<void> CollectMembers(const fs::path& dir, const std::string& prefix, std::uint64_t max_bytes,
                            std::vector<PackMember>& members, std::uint64_t& total) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    return Fail(PackIoError("list", prefix.empty() ? "." : prefix, ec));
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (SkippedName(name, prefix.empty())) {
      continue;
    }
    PackMember member;
    member.path = prefix;
    if (!member.path.empty()) {
      member.path += '/';
    }
    member.path += name;
    member.source = dir / name;
    if (HasControl(name)) {
      return Fail(Error::InvalidParameter(fmt::format(
          "'{}' has control characters in its name; rename it", Printable(member.path))));
    }
    const fs::file_status status = fs::symlink_status(member.source, ec);
    if (ec) {
      return Fail(PackIoError("stat", member.path, ec));
    }
    if (fs::is_symlink(status)) {
      member.kind = MemberKind::SYMLINK;
      member.link_target = fs::read_symlink(member.source, ec).string();
      if (ec) {
        return Fail(PackIoError("read the symlink", member.path, ec));
      }
      auto components = SplitRelative(member.path, member.path);
      if (auto broken = SymlinkRuleBroken(*components, member.link_target)) {
        return Fail(Error::InvalidParameter(fmt::format(
            "symlink '{}' cannot be packed: {}; replace it with what it points to or remove it",
            Printable(member.path), *broken)));
      }
      members.push_back(std::move(member));
    } else if (fs::is_directory(status)) {
      if (fs::exists(fs::symlink_status(member.source / "pyvenv.cfg", ec))) {
        continue;  // a virtualenv: rebuilt from the environment spec, never shipped
      }
      member.kind = MemberKind::DIRECTORY;
      members.push_back(member);
      MLTF_TRY(CollectMembers(member.source, member.path, max_bytes, members, total));
    } else if (fs::is_regular_file(status)) {
      member.kind = MemberKind::FILE;
      member.size = fs::file_size(member.source, ec);
      if (ec) {
        return Fail(PackIoError("stat", member.path, ec));
      }
      member.executable = (status.permissions() & fs::perms::owner_exec) != fs::perms::none;
      total += member.size;
      if (total > max_bytes) {
        return Fail(Error::InvalidParameter(fmt::format(
            "the project directory holds more than the limit of {} bytes (reached at '{}'); "
            "remove large files or move data out of the project",
            max_bytes, Printable(member.path))));
      }
      members.push_back(std::move(member));
    } else {
      return Fail(Error::InvalidParameter(
          fmt::format("'{}' is a special file (device, FIFO or socket) and cannot be packed; "
                      "remove it from the project directory",
                      Printable(member.path))));
    }
  }
  return {};
}

Error WriteError(archive* writer, std::string_view what) {
  const char* reason = archive_error_string(writer);
  return Error::Internal(fmt::format("could not write the project archive ({}): {}", what,
                                     reason != nullptr ? reason : "unknown error"));
}

Result<void> WriteMember(archive* writer, const PackMember& member, std::uint64_t total,
                         std::uint64_t& done, const PackOptions& options) {
  Entry entry(archive_entry_new());
  if (!entry) {
    throw std::bad_alloc();
  }
  archive_entry_set_pathname(entry.get(), member.path.c_str());
  archive_entry_set_mtime(entry.get(), 0, 0);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  switch (member.kind) {
    case MemberKind::DIRECTORY:
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
      archive_entry_set_perm(entry.get(), 0755);
      break;
    case MemberKind::SYMLINK:
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_perm(entry.get(), 0755);
      archive_entry_set_symlink(entry.get(), member.link_target.c_str());
      break;
    case MemberKind::FILE:
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_perm(entry.get(), member.executable ? 0755 : 0644);
      archive_entry_set_size(entry.get(), static_cast<la_int64_t>(member.size));
      break;
  }
  if (archive_write_header(writer, entry.get()) != ARCHIVE_OK) {
    return Fail(WriteError(writer, member.path));
  }
  if (member.kind != MemberKind::FILE) {
    return {};
  }
  std::ifstream in(member.source, std::ios::binary);
  std::string buffer(kChunkBytes, '\0');
  std::uint64_t left = member.size;
  while (left > 0 && in) {
    const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(left, buffer.size()));
    in.read(buffer.data(), want);
    const std::streamsize got = in.gcount();
    if (got <= 0) {
      break;
    }
    if (archive_write_data(writer, buffer.data(), static_cast<std::size_t>(got)) != got) {
      return Fail(WriteError(writer, member.path));
    }
    left -= static_cast<std::uint64_t>(got);
    done += static_cast<std::uint64_t>(got);
    if (options.progress) {
      options.progress(done, total);
    }
  }
  if (left > 0) {
    return Fail(Error::Internal(
        fmt::format("'{}' could not be read completely (did it change while being packed?)",
                    Printable(member.path))));
  }
  return {};
}

Result<PackResult> PackInto(const fs::path& dir, const fs::path& out, const PackOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Fail(
        Error::InvalidParameter(fmt::format("'{}' is not a directory", Printable(dir.string()))));
  }
  std::vector<PackMember> members;
  std::uint64_t total = 0;
  MLTF_TRY(CollectMembers(dir, "", options.max_bytes, members, total));

  WriteArchive writer(archive_write_new());
  if (!writer) {
    throw std::bad_alloc();
  }
  // pax_restricted writes plain ustar headers unless a name needs more, and its extended
  // headers carry no times or process ids here, so the bytes depend on the content alone.
  // gzip's header would otherwise hold the current time.
  if (archive_write_add_filter_gzip(writer.get()) != ARCHIVE_OK ||
      archive_write_set_filter_option(writer.get(), "gzip", "timestamp", nullptr) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      archive_write_open_filename(writer.get(), out.c_str()) != ARCHIVE_OK) {
    return Fail(WriteError(writer.get(), "open"));
  }
  PackResult result;
  std::uint64_t done = 0;
  for (const PackMember& member : members) {
    MLTF_TRY(WriteMember(writer.get(), member, total, done, options));
    if (member.kind == MemberKind::FILE) {
      ++result.files;
      result.bytes += member.size;
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Fail(WriteError(writer.get(), "close"));
  }
  MLTF_ASSIGN_OR_RETURN(digest, Sha256OfFile(out));
  result.sha256 = std::move(digest);
  return result;
}

}  // namespace

Result<ArchiveSummary> InspectArchive(const std::filesystem::path& archive,
                                      const ArchiveLimits& limits) {
  const auto first_pass_wants = [](const std::string& name) {
    return IsMlprojectName(name) ||  // root level only, as both contain no '/'
           std::find(kSpecFiles.begin(), kSpecFiles.end(), name) != kSpecFiles.end();
  };
  MLTF_ASSIGN_OR_RETURN(summary, Scan(archive, limits, first_pass_wants));

  // The MLproject may come after the env file it names, so that file needs a second pass.
  std::optional<std::string> env_file;
  for (const auto& [name, content] : summary.small_files) {
    if (IsMlprojectName(name)) {
      env_file = DeclaredEnvFile(content);
    }
  }
  if (env_file && !summary.small_files.contains(*env_file) &&
      std::binary_search(summary.files.begin(), summary.files.end(), *env_file)) {
    const std::string wanted_name = *env_file;
    MLTF_ASSIGN_OR_RETURN(
        again, Scan(archive, limits, [&](const std::string& name) { return name == wanted_name; }));
    if (auto found = again.small_files.find(wanted_name); found != again.small_files.end()) {
      summary.small_files.insert(*found);
    }
  }
  return summary;
}

Result<void> ExtractArchive(const std::filesystem::path& archive,
                            const std::filesystem::path& destination, const ArchiveLimits& limits) {
  std::error_code ec;
  const fs::path root = fs::canonical(destination, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return Fail(Error::Internal("the extraction destination is not an existing directory"));
  }
  if (!fs::is_empty(root, ec) || ec) {
    return Fail(Error::Internal("the extraction destination is not empty"));
  }
  auto extracted = ExtractInto(archive, root, limits);
  if (!extracted) {
    // Leave the destination as it was: empty. remove_all does not follow symlinks.
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
  return extracted;
}

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::bad_alloc();
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(context_.get(), data.data(), data.size());
}

std::string Sha256::HexDigest() const {
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> copy(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!copy || EVP_MD_CTX_copy_ex(copy.get(), context_.get()) != 1 ||
      EVP_DigestFinal_ex(copy.get(), digest.data(), &length) != 1) {
    throw std::bad_alloc();
  }
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned int idx = 0; idx < length; ++idx) {
    hex += fmt::format("{:02x}", digest[idx]);
  }
  return hex;
}

Result<std::string> Sha256OfFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Fail(Error::Internal(
        fmt::format("could not open '{}' to hash it", Printable(file.filename().string()))));
  }
  Sha256 hash;
  std::string buffer(kChunkBytes, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) {
    return Fail(Error::Internal(
        fmt::format("could not read '{}' to hash it", Printable(file.filename().string()))));
  }
  return hash.HexDigest();
}

Result<PackResult> PackDirectory(const std::filesystem::path& dir,
                                 const std::filesystem::path& out_tar_gz,
                                 const PackOptions& options) {
  auto packed = PackInto(dir, out_tar_gz, options);
  if (!packed) {
    std::error_code ignored;
    fs::remove(out_tar_gz, ignored);
  }
  return packed;
}

}  // namespace mltf::gateway::projects
