// stored_login.cpp - the credential file: private directory and file modes, atomic replacement
// through a file created 0600, and the lock file that serialises changes between processes.
#include "client/stored_login.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "client/http_client.hpp"

namespace mltf::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormatVersion = 1;
// A credential file is a few kilobytes; anything much larger is not ours.
constexpr std::size_t kMaxFileBytes = std::size_t{4} << 20;
// How long a process waits for another that holds the lock (one refresh takes seconds).
constexpr auto kLockWait = std::chrono::seconds(120);
constexpr auto kLockPoll = std::chrono::milliseconds(50);
constexpr mode_t kPrivateBits = S_IRWXG | S_IRWXO;

std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at startup.
  return value == nullptr ? std::string() : std::string(value);
}

std::string ErrnoText(int error) { return std::generic_category().message(error); }

/// Closes the descriptor it owns (releasing any flock on it).
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) close(fd_);
  }
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&&) = delete;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  int get() const { return fd_; }
  /// Closes now, reporting close()'s errno (0 on success).
  int Close() {
    const int rc = close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

Error FileError(const fs::path& path, std::string_view action, int error) {
  return Error::InvalidState(
      fmt::format("cannot {} {}: {}", action, path.string(), ErrnoText(error)));
}

// Creates `dir` and its missing parents as 0700 (XDG's mode for its directories). An existing
// `dir` of this user that others may enter is tightened, with a warning.
Result<void> EnsurePrivateDirectory(const fs::path& dir,
                                    const std::function<void(std::string_view)>& warn) {
  fs::path prefix;
  for (const auto& part : dir) {
    prefix /= part;
    if (mkdir(prefix.c_str(), S_IRWXU) != 0 && errno != EEXIST) {
      return Fail(FileError(prefix, "create the directory", errno));
    }
  }
  struct stat info {};
  if (stat(dir.c_str(), &info) != 0) return Fail(FileError(dir, "inspect", errno));
  if (!S_ISDIR(info.st_mode)) {
    return Fail(Error::InvalidState(fmt::format("{} is not a directory", dir.string())));
  }
  if (info.st_uid != geteuid()) {
    return Fail(Error::InvalidState(
        fmt::format("{} belongs to another user; mltf keeps logins only in a directory of yours",
                    dir.string())));
  }
  if ((info.st_mode & kPrivateBits) != 0) {
    if (chmod(dir.c_str(), S_IRWXU) != 0) return Fail(FileError(dir, "restrict", errno));
    warn(fmt::format("{} could be entered by other users; it is now private (0700)", dir.string()));
  }
  return {};
}

json EntryToJson(const StoredLogin& login) {
  return {{"kind", login.kind},
          {"issuer", login.issuer},
          {"client_id", login.client_id},
          {"token_url", login.token_url},
          {"revocation_url", login.revocation_url},
          {"access_token", login.access_token},
          {"access_expires_at", login.access_expires_at},
          {"refresh_token", login.refresh_token},
          {"user", login.user}};
}

StoredLogin EntryFromJson(const json& object) {
  StoredLogin login;
  login.kind = JsonString(object, "kind");
  if (login.kind.empty()) login.kind = "oidc";
  login.issuer = JsonString(object, "issuer");
  login.client_id = JsonString(object, "client_id");
  login.token_url = JsonString(object, "token_url");
  login.revocation_url = JsonString(object, "revocation_url");
  login.access_token = JsonString(object, "access_token");
  if (const auto it = object.find("access_expires_at");
      it != object.end() && it->is_number_integer()) {
    login.access_expires_at = it->get<std::int64_t>();
  }
  login.refresh_token = JsonString(object, "refresh_token");
  login.user = JsonString(object, "user");
  return login;
}

// The whole file; std::nullopt when it does not exist. Refuses links and other users' files,
// tightens a readable one. Messages never quote the content: it holds tokens.
Result<std::optional<json>> ReadCredentialFile(const fs::path& path,
                                               const std::function<void(std::string_view)>& warn) {
  Descriptor file(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) {
    if (errno == ENOENT) return std::optional<json>();
    if (errno == ELOOP) {
      return Fail(Error::InvalidState(fmt::format(
          "{} is a symbolic link; mltf reads logins only from a plain file", path.string())));
    }
    return Fail(FileError(path, "open", errno));
  }
  struct stat info {};
  if (fstat(file.get(), &info) != 0) return Fail(FileError(path, "inspect", errno));
  if (!S_ISREG(info.st_mode)) {
    return Fail(Error::InvalidState(fmt::format("{} is not a regular file", path.string())));
  }
  if (info.st_uid != geteuid()) {
    return Fail(Error::InvalidState(fmt::format(
        "{} belongs to another user; remove it and run `mltf login` again", path.string())));
  }
  if ((info.st_mode & kPrivateBits) != 0) {
    if (fchmod(file.get(), S_IRUSR | S_IWUSR) != 0) return Fail(FileError(path, "restrict", errno));
    warn(fmt::format(
        "{} could be read by other users; it is now private (0600). If others may have read "
        "it, run `mltf logout` and `mltf login` to replace the tokens in it",
        path.string()));
  }
  if (static_cast<std::size_t>(info.st_size) > kMaxFileBytes) {
    return Fail(Error::InvalidState(
        fmt::format("{} is too large to be a credential file of mltf", path.string())));
  }
  std::string text;
  std::vector<char> buffer(16384);
  for (;;) {
    const ssize_t got = read(file.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Fail(FileError(path, "read", errno));
    if (got == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(got));
    if (text.size() > kMaxFileBytes) {
      return Fail(Error::InvalidState(
          fmt::format("{} is too large to be a credential file of mltf", path.string())));
    }
  }
  // Without exceptions: a parse error's message would quote the bytes around it.
  auto parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto servers = parsed.is_object() ? parsed.find("servers") : parsed.end();
  if (!parsed.is_object() || servers == parsed.end() || !servers->is_object()) {
    return Fail(Error::InvalidState(
        fmt::format("{} is not a credential file of mltf; remove it and run `mltf login` again",
                    path.string())));
  }
  if (const auto version = parsed.find("version"); version != parsed.end() &&
                                                   version->is_number_integer() &&
                                                   version->get<int>() > kFormatVersion) {
    return Fail(Error::InvalidState(
        fmt::format("{} was written by a newer mltf (format {}); use that version", path.string(),
                    version->get<int>())));
  }
  return std::optional<json>(std::move(parsed));
}

Result<void> WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t wrote = write(fd, data.data(), data.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return Fail(FileError(path, "write", errno));
    data.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return {};
}

// Replaces `path` with `content`: a new file made 0600 by open() itself (never readable by
// others, whatever the umask), fsynced, then renamed over the old one.
Result<void> ReplaceCredentialFile(const fs::path& path, const json& content) {
  std::random_device random;
  const fs::path temp = path.parent_path() /
                        fmt::format(".{}.{}-{:08x}", path.filename().string(), getpid(), random());
  Descriptor file(
      open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR));
  if (file.get() < 0) return Fail(FileError(temp, "create", errno));
  auto result = [&]() -> Result<void> {
    MLTF_TRY(WriteAll(file.get(), content.dump(2) + "\n", temp));
    if (fsync(file.get()) != 0) return Fail(FileError(temp, "sync", errno));
    if (const int error = file.Close(); error != 0) return Fail(FileError(temp, "close", error));
    if (rename(temp.c_str(), path.c_str()) != 0) return Fail(FileError(path, "replace", errno));
    return {};
  }();
  if (!result) {
    unlink(temp.c_str());
    return result;
  }
  // Makes the rename itself durable; a failure here loses nothing already visible.
  Descriptor dir(open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());
  return {};
}

// An exclusive flock on `path` (created 0600), held until the descriptor is closed. Polls so
// that a process stuck while holding it turns into an error, not a hang.
Result<Descriptor> LockExclusive(const fs::path& path) {
  Descriptor lock(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR));
  if (lock.get() < 0) return Fail(FileError(path, "open the lock file", errno));
  const auto deadline = std::chrono::steady_clock::now() + kLockWait;
  while (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return Fail(FileError(path, "lock", errno));
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(Error::Unavailable(
          fmt::format("another mltf process has held {} for {} s; let it finish or stop it",
                      path.string(), kLockWait.count())));
    }
    std::this_thread::sleep_for(kLockPoll);
  }
  return lock;
}

// Where the home directory is when HOME is unset (batch jobs, some services).
std::string HomeFromPasswd() {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr || found->pw_dir == nullptr) {
    return {};
  }
  return found->pw_dir;
}

}  // namespace

Result<fs::path> DefaultCredentialsPath() {
  // XDG's rule: a relative XDG_CONFIG_HOME is invalid and ignored.
  if (const std::string config = Env("XDG_CONFIG_HOME"); !config.empty() && config[0] == '/') {
    return fs::path(config) / "mltf" / "credentials.json";
  }
  std::string home = Env("HOME");
  if (home.empty()) home = HomeFromPasswd();
  if (home.empty()) {
    return Fail(Error::InvalidState(
        "neither XDG_CONFIG_HOME nor HOME is set, so mltf has nowhere to keep your login"));
  }
  return fs::path(home) / ".config" / "mltf" / "credentials.json";
}

CredentialStore::CredentialStore(fs::path file, WarningSink warn)
    : file_(std::move(file)), warn_(std::move(warn)) {}

Result<CredentialStore> CredentialStore::ForCurrentUser(WarningSink warn) {
  MLTF_ASSIGN_OR_RETURN(path, DefaultCredentialsPath());
  return CredentialStore(std::move(path), std::move(warn));
}

void CredentialStore::Warn(std::string_view message) const {
  if (warn_) {
    warn_(message);
  } else {
    std::cerr << "mltf: warning: " << message << "\n";
  }
}

Result<std::optional<StoredLogin>> CredentialStore::Load(const std::string& server) const {
  auto warn = [this](std::string_view message) { Warn(message); };
  MLTF_ASSIGN_OR_RETURN(content, ReadCredentialFile(file_, warn));
  if (!content) return std::optional<StoredLogin>();
  const json& servers = content->at("servers");
  const auto it = servers.find(server);
  if (it == servers.end() || !it->is_object()) return std::optional<StoredLogin>();
  return std::optional<StoredLogin>(EntryFromJson(*it));
}

Result<void> CredentialStore::Save(const std::string& server, const StoredLogin& login) {
  MLTF_TRY(Update(server, [&login](const std::optional<StoredLogin>&) {
    return Result<std::optional<StoredLogin>>(login);
  }));
  return {};
}

Result<std::optional<StoredLogin>> CredentialStore::Remove(const std::string& server) {
  std::optional<StoredLogin> removed;
  MLTF_TRY(Update(server, [&removed](const std::optional<StoredLogin>& current) {
    removed = current;
    return Result<std::optional<StoredLogin>>(std::nullopt);
  }));
  return removed;
}

Result<std::optional<StoredLogin>> CredentialStore::Update(const std::string& server,
                                                           const EntryUpdate& update) {
  auto warn = [this](std::string_view message) { Warn(message); };
  MLTF_TRY(EnsurePrivateDirectory(file_.parent_path(), warn));
  MLTF_ASSIGN_OR_RETURN(lock, LockExclusive(fs::path(file_.string() + ".lock")));
  // Read after locking: another process may have just rotated the tokens.
  MLTF_ASSIGN_OR_RETURN(content, ReadCredentialFile(file_, warn));
  json document = content ? std::move(*content)
                          : json{{"version", kFormatVersion}, {"servers", json::object()}};
  json& servers = document["servers"];
  std::optional<StoredLogin> current;
  if (const auto it = servers.find(server); it != servers.end() && it->is_object()) {
    current = EntryFromJson(*it);
  }
  MLTF_ASSIGN_OR_RETURN(next, update(current));
  if (next == current) return next;
  if (next) {
    servers[server] = EntryToJson(*next);
  } else {
    servers.erase(server);
  }
  document["version"] = kFormatVersion;
  MLTF_TRY(ReplaceCredentialFile(file_, document));
  return next;
}

}  // namespace mltf::client
