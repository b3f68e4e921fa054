// stored_login.hpp - the per-user credential file of `mltf login`: one entry per server,
// readable by its owner alone, changed under a lock so that concurrent `mltf` processes never
// lose each other's refreshed tokens.
//
// The file is $XDG_CONFIG_HOME/mltf/credentials.json, else $HOME/.config/mltf/credentials.json:
//
//   {"version": 1, "servers": {"https://mltf.example:5000": {"kind": "oidc", "issuer": ...}}}
//
// Its directory is 0700 and the file 0600 from its first byte: every write goes to a new file
// created 0600 beside it, is fsynced, and renamed over the old one. Writers hold an exclusive
// flock on "credentials.json.lock" and re-read the file after taking it, because providers
// rotate refresh tokens and one used twice can make them revoke the whole grant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mltf::client {

/// What `mltf login` keeps for one server.
struct StoredLogin {
  /// "oidc": tokens from the server's OpenID provider, refreshed here; "token": an API token
  /// given to `mltf login --with-token`, used as it is until it stops working.
  std::string kind = "oidc";
  std::string issuer;
  std::string client_id;
  std::string token_url;
  std::string revocation_url;  ///< Empty when the provider names none.
  std::string access_token;
  std::int64_t access_expires_at = 0;  ///< Unix seconds; 0 when unknown (never refreshed early).
  std::string refresh_token;           ///< Empty when the provider gave none.
  std::string user;                    ///< Who the server saw at login, for messages.

  bool operator==(const StoredLogin&) const = default;
};

/// The credential file's path from XDG_CONFIG_HOME (when absolute) or HOME. Fails with
/// INVALID_STATE when neither is set.
Result<std::filesystem::path> DefaultCredentialsPath();

/// The credential file. Loading takes no lock (writes are atomic renames); every change
/// re-reads the file under the lock. Errors name the file, never a token.
///
/// Not thread-safe within a process; safe between processes.
class CredentialStore {
 public:
  /// Receives one warning for the user (a file others could read, now tightened).
  using WarningSink = std::function<void(std::string_view)>;
  /// Changes the entry of one server: receives it (std::nullopt when absent) and returns the
  /// new entry, std::nullopt to remove it, or an error to leave the file as it was.
  using EntryUpdate =
      std::function<Result<std::optional<StoredLogin>>(const std::optional<StoredLogin>&)>;

  /// Does not touch the disk. `warn` empty: warnings go to stderr as "mltf: warning: ...".
  explicit CredentialStore(std::filesystem::path file, WarningSink warn = {});

  /// The store at DefaultCredentialsPath(). Fails as that does.
  static Result<CredentialStore> ForCurrentUser(WarningSink warn = {});

  const std::filesystem::path& file() const { return file_; }

  /// The entry of `server` (a base URL as ResolveServer returns it); std::nullopt when there is
  /// none or no file. Fails when the file cannot be read, belongs to another user or is not a
  /// credential file. A file others may read is tightened to 0600 with a warning.
  Result<std::optional<StoredLogin>> Load(const std::string& server) const;

  /// Stores `login` as the entry of `server`, keeping the others. Fails when the directory or
  /// file cannot be written or locked.
  Result<void> Save(const std::string& server, const StoredLogin& login);

  /// Removes the entry of `server`; returns the entry that was there (std::nullopt: none).
  Result<std::optional<StoredLogin>> Remove(const std::string& server);

  /// Runs `update` on the entry of `server` under the lock, after re-reading the file, and
  /// writes the file when the entry changed. Returns the entry as it is afterwards. Fails with
  /// the error of `update`, or when the file cannot be read, locked or written.
  Result<std::optional<StoredLogin>> Update(const std::string& server, const EntryUpdate& update);

 private:
  void Warn(std::string_view message) const;

  std::filesystem::path file_;
  WarningSink warn_;
};

}  // namespace mltf::client
