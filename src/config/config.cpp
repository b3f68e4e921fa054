// config.cpp - layering of configuration sources and validation.
#include "config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <functional>

namespace mltf::config {
namespace {

struct Setting {
  std::string_view name;  // flag name, e.g. "data-dir"; YAML accepts it and "data_dir"
  std::function<std::optional<std::string>(ServerConfig&, const std::string&)> apply;
};

std::optional<std::string> SetInt(std::int64_t& target, const std::string& text, std::int64_t min,
                                  std::int64_t max) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return fmt::format("'{}' is not an integer", text);
  }
  if (value < min || value > max) {
    return fmt::format("{} is out of range [{}, {}]", value, min, max);
  }
  target = value;
  return std::nullopt;
}

std::optional<std::string> SetBool(bool& target, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    target = true;
  } else if (text == "false" || text == "0" || text == "no" || text == "off") {
    target = false;
  } else {
    return fmt::format("'{}' is not a boolean", text);
  }
  return std::nullopt;
}

std::optional<std::string> SetChoice(std::string& target, const std::string& text,
                                     std::initializer_list<std::string_view> choices) {
  for (auto choice : choices) {
    if (text == choice) {
      target = text;
      return std::nullopt;
    }
  }
  return fmt::format("'{}' is not one of {}", text, fmt::join(choices, ", "));
}

/// A setting that takes any text.
auto SetText(std::string ServerConfig::*field) {
  return [field](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
    c.*field = v;
    return std::nullopt;
  };
}

/// A setting that takes any text but the empty one.
auto SetNonEmptyText(std::string ServerConfig::*field) {
  return [field](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return "must not be empty";
    c.*field = v;
    return std::nullopt;
  };
}

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings =
      {
          {"host",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (v.empty()) return "must not be empty";
             c.host = v;
             return std::nullopt;
           }},
          {"port",
           [](ServerConfig& c, const std::string& v) { return SetInt(c.port, v, 0, 65535); }},
          {"data-dir",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (v.empty()) return "must not be empty";
             c.data_dir = v;
             return std::nullopt;
           }},
          {"backend-store-uri",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.backend_store_uri = v;
             return std::nullopt;
           }},
          {"default-artifact-root",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (v.empty()) return "must not be empty";
             c.default_artifact_root = v;
             return std::nullopt;
           }},
          {"artifacts-destination",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.artifacts_destination = v;
             return std::nullopt;
           }},
          {"io-threads",
           [](ServerConfig& c, const std::string& v) { return SetInt(c.io_threads, v, 1, 64); }},
          {"workers",
           [](ServerConfig& c, const std::string& v) { return SetInt(c.workers, v, 1, 1024); }},
          {"access-log",
           [](ServerConfig& c, const std::string& v) { return SetBool(c.access_log, v); }},
          {"sqlite-synchronous",
           [](ServerConfig& c, const std::string& v) {
             return SetChoice(c.sqlite_synchronous, v, {"off", "normal", "full"});
           }},
          {"max-request-body-mb",
           [](ServerConfig& c, const std::string& v) {
             return SetInt(c.max_request_body_mb, v, 1, 4096);
           }},
          {"log-level",
           [](ServerConfig& c, const std::string& v) {
             return SetChoice(c.log_level, v, {"trace", "debug", "info", "warn", "error"});
           }},
          {"public-url",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://")) {
               return "must be an http:// or https:// URL";
             }
             c.public_url = v;
             return std::nullopt;
           }},
          {"local-user",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.local_user = v;
             return std::nullopt;
           }},
          {"auth",
           [](ServerConfig& c, const std::string& v) {
             return SetChoice(c.auth, v, {"none", "tokens", "oidc"});
           }},
          {"auth-admins", SetText(&ServerConfig::auth_admins)},
          {"auth-admin-group", SetText(&ServerConfig::auth_admin_group)},
          {"auth-default-permission",
           [](ServerConfig& c, const std::string& v) {
             return SetChoice(c.auth_default_permission, v,
                              {"NO_PERMISSIONS", "READ", "EDIT", "MANAGE"});
           }},
          {"oidc-issuer",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (!v.empty() && !v.starts_with("https://") && !v.starts_with("http://")) {
               return "must be an https:// URL";
             }
             c.oidc_issuer = v;
             return std::nullopt;
           }},
          {"oidc-audience", SetText(&ServerConfig::oidc_audience)},
          {"oidc-client-id", SetText(&ServerConfig::oidc_client_id)},
          {"oidc-user-claim", SetNonEmptyText(&ServerConfig::oidc_user_claim)},
          {"oidc-groups-claim", SetText(&ServerConfig::oidc_groups_claim)},
          {"task-token-lifetime-seconds",
           [](ServerConfig& c, const std::string& v) {
             constexpr std::int64_t kWeekSeconds = std::int64_t{7} * 24 * 3600;
             return SetInt(c.task_token_lifetime_seconds, v, 2, kWeekSeconds);
           }},
          {"local-cpus",
           [](ServerConfig& c, const std::string& v) { return SetInt(c.local_cpus, v, 0, 65536); }},
          {"local-memory-mb",
           [](ServerConfig& c, const std::string& v) {
             return SetInt(c.local_memory_mb, v, 0, 64LL << 20);
           }},
          {"local-gpus",
           [](ServerConfig& c,
              const std::string& v) -> std::
                                        optional<std::string> {
                                          c.local_gpus = v;
                                          return std::nullopt;
                                        }},
          {"cancel-grace-seconds",
           [](ServerConfig& c,
              const std::string& v) { return SetInt(c.cancel_grace_seconds, v, 0, 3600); }},
          {"system-metrics-interval-ms",
           [](ServerConfig& c,
              const std::string&
                  v) { return SetInt(c.system_metrics_interval_ms, v, 0, 86400000); }},
          {"max-project-mb",
           [](
               ServerConfig& c,
               const std::string& v) { return SetInt(c.max_project_mb, v, 1, 65536); }},
          {"max-project-unpacked-mb",
           [](ServerConfig& c,
              const std::string& v) { return SetInt(c.max_project_unpacked_mb, v, 1, 1 << 24); }},
          {"python",
           [](ServerConfig& c,
              const std::string& v) -> std::
                                        optional<std::string> {
                                          if (v.empty()) return "must not be empty";
                                          c.python = v;
                                          return std::nullopt;
                                        }},
          {"pip-index-url",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.pip_index_url = v;
             return std::nullopt;
           }},
          {"pip-find-links",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.pip_find_links = v;
             return std::nullopt;
           }},
          {"pip-no-index",
           [](ServerConfig& c, const std::string& v) { return SetBool(c.pip_no_index, v); }},
          {"venv-system-site-packages",
           [](ServerConfig& c,
              const std::string& v) { return SetBool(c.venv_system_site_packages, v); }},
          {"executor",
           [](ServerConfig& c,
              const std::string& v) { return SetChoice(c.executor, v, {"local", "slurm"}); }},
          {"slurm-bin-dir",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_bin_dir = v;
             return std::nullopt;
           }},
          {"slurm-runner-binary",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_runner_binary = v;
             return std::nullopt;
           }},
          {"slurm-poll-ms",
           [](ServerConfig& c,
              const std::string& v) { return SetInt(c.slurm_poll_ms, v, 10, 600000); }},
          {"slurm-sbatch-options",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_sbatch_options = v;
             return std::nullopt;
           }},
          {"slurm-partitions",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_partitions = v;
             return std::nullopt;
           }},
          {"slurm-environment",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_environment = v;
             return std::nullopt;
           }},
          {"slurm-preempt-grace-seconds",
           [](ServerConfig& c,
              const std::string& v) { return SetInt(c.slurm_preempt_grace_seconds, v, 1, 65535); }},
          {"slurm-rest-url",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://")) {
               return "must be an http:// or https:// URL";
             }
             c.slurm_rest_url = v;
             return std::nullopt;
           }},
          {"slurm-rest-user",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_rest_user = v;
             return std::nullopt;
           }},
          {"slurm-rest-token-file",
           [](ServerConfig& c, const std::string& v) -> std::optional<std::string> {
             c.slurm_rest_token_file = v;
             return std::nullopt;
           }},
      };
  return kSettings;
}

std::string EnvName(std::string_view name) {
  std::string env = "MLTF_";
  for (char ch : name) env.push_back(ch == '-' ? '_' : static_cast<char>(std::toupper(ch)));
  return env;
}

std::string Underscored(std::string_view name) {
  std::string out(name);
  for (char& ch : out) {
    if (ch == '-') ch = '_';
  }
  return out;
}

}  // namespace

std::vector<std::string> ServerSettingNames() {
  std::vector<std::string> names;
  for (const auto& setting : Settings()) names.emplace_back(setting.name);
  return names;
}

Result<ServerConfig> LoadServerConfig(const std::string& config_file, const FlagValues& flags) {
  ServerConfig config;
  std::vector<std::string> problems;
  YAML::Node yaml;
  if (!config_file.empty()) {
    try {
      yaml = YAML::LoadFile(config_file);
      if (!yaml.IsMap() && !yaml.IsNull()) {
        problems.push_back(
            fmt::format("{}: the file must hold a mapping of settings", config_file));
      }
    } catch (const YAML::Exception& error) {
      problems.push_back(fmt::format("{}: {}", config_file, error.what()));
    }
  }
  if (yaml.IsMap()) {
    for (const auto& entry : yaml) {
      auto key = entry.first.as<std::string>();
      bool known = false;
      for (const auto& setting : Settings()) {
        known = known || key == setting.name || key == Underscored(setting.name);
      }
      if (!known) problems.push_back(fmt::format("{}: unknown setting '{}'", config_file, key));
    }
  }
  for (const auto& setting : Settings()) {
    std::optional<std::string> value;
    std::string source;
    if (yaml.IsMap()) {
      for (const std::string& key : {std::string(setting.name), Underscored(setting.name)}) {
        if (yaml[key] && yaml[key].IsScalar()) {
          value = yaml[key].as<std::string>();
          source = fmt::format("{} key '{}'", config_file, key);
        }
      }
    }
    std::string env_name = EnvName(setting.name);
    if (const char* env = std::getenv(env_name.c_str()); env != nullptr) {
      value = env;
      source = env_name;
    }
    if (auto flag = flags.find(std::string(setting.name)); flag != flags.end()) {
      value = flag->second;
      source = fmt::format("--{}", setting.name);
    }
    if (!value) continue;
    if (auto problem = setting.apply(config, *value)) {
      problems.push_back(fmt::format("{}: {}", source, *problem));
    }
  }
  if (config.backend_store_uri.empty()) {
    config.backend_store_uri = config.data_dir + "/mltf.db";
  } else if (auto path = SqlitePathOf(config.backend_store_uri); !path) {
    problems.push_back(fmt::format("backend-store-uri: {}", path.error().message));
  }
  if (config.auth == "oidc" && (config.oidc_issuer.empty() || config.oidc_audience.empty())) {
    problems.emplace_back("auth: mode oidc needs oidc-issuer and oidc-audience");
  }
  if (config.artifacts_destination.empty())
    config.artifacts_destination = config.data_dir + "/artifacts";
  if (!problems.empty()) {
    return Fail(Error::InvalidParameter(
        fmt::format("invalid configuration:\n  {}", fmt::join(problems, "\n  "))));
  }
  return config;
}

Result<std::string> SqlitePathOf(const std::string& backend_store_uri) {
  std::string_view uri = backend_store_uri;
  if (uri.starts_with("sqlite:///")) {
    // MLflow/SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db.
    return std::string(uri.substr(std::string_view("sqlite:///").size()));
  }
  if (uri.find("://") != std::string_view::npos) {
    return Fail(Error::InvalidParameter(fmt::format(
        "unsupported backend store '{}': this build supports SQLite (sqlite:///path or a file "
        "path); PostgreSQL is planned",
        uri.substr(0, uri.find("://")))));
  }
  return std::string(uri);
}

}  // namespace mltf::config
