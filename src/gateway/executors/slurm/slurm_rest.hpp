// slurm_rest.hpp - the SLURM executor's operations through slurmrestd: REST API v0.0.38 (Slurm
// 22.05) with JWT authentication, instead of SLURM's client programs.
//
// Every request carries X-SLURM-USER-NAME and X-SLURM-USER-TOKEN (22.05 has no
// `Authorization: Bearer`); the token is read from a file, again whenever the file changes, so a
// cron job can renew it. It never appears in logs or messages.
//
//   submit     POST /slurm/v0.0.38/job/submit {"job": {...}, "script": "..."}. slurmrestd 22.05
//              ignores the script's #SBATCH lines, so each option becomes a field of the job
//              object (RestJobSubmission); an option without a field is refused. It cannot ask
//              for `B:` signals: jobs get `USR1@<grace>`, sent to steps only, and the batch
//              script passes it on (BatchScriptOptions::signal_steps).
//   follow     GET /slurm/v0.0.38/jobs: ONE call per poll, every job slurmctld remembers (the
//              answer grows with the cluster, not with MLTF's jobs); its exit_code is a raw wait
//              status, decoded (768 is exit 3, 15 is SIGTERM), so a finished job is final there.
//   accounting GET /slurmdb/v0.0.38/job/{id}, one call per job slurmctld no longer shows (after
//              MinJobAge, e.g. across a long server restart): the state is right, but slurmdb's
//              exit code is not for plain failures ({"status": "SUCCESS"} for exit 3), so only
//              signals are taken from it; the runner's result file gives the rest.
//   signal     DELETE /slurm/v0.0.38/job/{id}?signal=SIGTERM (the batch shell and srun, which
//              ends its step at once; no cancel), then DELETE /slurm/v0.0.38/job/{id} (a real
//              cancel) after the grace.
//
// Errors: no answer (connection refused, timeout), HTTP 401, a refused token (500 with
// error_number -1, or 5005 on submission), SLURM's communication errors and "try again" words
// are TEMPORARILY_UNAVAILABLE; any other error of SLURM's (500 with e.g. 2000 "Invalid partition
// name specified") refuses a submission for good, quoting SLURM. 2017 "Invalid job id
// specified" means the job is not (any more) known.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "gateway/executors/slurm/slurm_controller.hpp"

namespace mltf::gateway::executors::slurm {

/// The path prefixes of the API versions spoken here.
inline constexpr std::string_view kSlurmRestPrefix = "/slurm/v0.0.38";
inline constexpr std::string_view kSlurmDbRestPrefix = "/slurmdb/v0.0.38";

/// One HTTP answer of slurmrestd, whatever its status.
struct RestResponse {
  long status = 0;
  std::string body;
};

using RestHeaders = std::vector<std::pair<std::string, std::string>>;

/// One HTTP exchange with slurmrestd. Thread-safe.
class RestTransport {
 public:
  virtual ~RestTransport() = default;
  /// Sends `method` to `path_and_query` with `headers` and `body` (JSON, when not empty). Any
  /// HTTP status is a result; fails with TEMPORARILY_UNAVAILABLE when no answer arrived.
  virtual Result<RestResponse> Send(std::string_view method, std::string_view path_and_query,
                                    const RestHeaders& headers, std::string_view body) = 0;
};

/// HTTP with libcurl: a connection per request, each limited to `timeout`. Messages name the
/// URL without any "user:password@" part, never the headers.
class CurlRestTransport final : public RestTransport {
 public:
  CurlRestTransport(std::string base_url, std::chrono::milliseconds timeout);
  Result<RestResponse> Send(std::string_view method, std::string_view path_and_query,
                            const RestHeaders& headers, std::string_view body) override;

 private:
  std::string base_url_;
  std::chrono::milliseconds timeout_;
};

/// A JWT kept in a file, as `scontrol token` prints it ("SLURM_JWT=eyJ...") or bare, read again
/// when the file's modification time or size changes. Thread-safe.
class TokenFile {
 public:
  explicit TokenFile(std::filesystem::path path);
  /// The token. Fails with INVALID_PARAMETER_VALUE naming the file (never its content) when it
  /// cannot be read or holds no token.
  Result<std::string> Token();

 private:
  std::filesystem::path path_;
  std::mutex mutex_;
  std::filesystem::file_time_type read_at_modification_{};
  std::uintmax_t read_at_size_ = 0;
  std::string token_;
};

struct RestSlurmOptions {
  /// The SLURM user the jobs run as (X-SLURM-USER-NAME); the token must be this user's.
  std::string user;
  std::filesystem::path token_file;
  /// The job's environment (the API requires one): the script exports the rest.
  std::map<std::string, std::string> job_environment{{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
};

/// The body of POST .../job/submit for `job`: each sbatch option of the job as its field of the
/// job object, `environment`, and the script. Fails with INVALID_PARAMETER_VALUE naming an option
/// slurmrestd 22.05 cannot take (no field, a `B:` signal, a value it cannot read).
Result<nlohmann::json> RestJobSubmission(const BatchJob& job,
                                         const std::map<std::string, std::string>& environment);

/// A raw wait status as slurmctld keeps it, as sacct prints it ("code:signal"): 768 is "3:0",
/// 15 is "0:15". Empty for a negative status. Does not fail.
std::string WaitStatusExitCode(std::int64_t status);

/// The rows of `job_ids` in the answer of GET /slurm/v0.0.38/jobs (or .../job/{id}), finished
/// ones with their decoded exit codes. Does not fail: malformed entries are counted in
/// skipped_lines.
SlurmJobTable ParseRestJobs(const nlohmann::json& answer, const std::vector<std::string>& job_ids);

/// The rows in the answer of GET /slurmdb/v0.0.38/job/{id}: the state, and an exit code only
/// where slurmdb's is right (a signal; 0 for COMPLETED). Several records of one job (requeued)
/// are taken as sacct --duplicates lists them. Does not fail.
SlurmJobTable ParseRestAccounting(const nlohmann::json& answer);

/// SLURM's errors in a failed answer, for messages: "Invalid partition name specified (error
/// 2000)", or the start of the body when it has none. Does not fail.
std::string RestErrorText(const RestResponse& response);

/// Whether the answer reports SLURM error `number` (error_number or error_code). Does not fail.
bool HasRestError(const RestResponse& response, int number);

/// What a failed answer means, `doing` naming the request ("slurmrestd refused the job"):
/// TEMPORARILY_UNAVAILABLE when another try may succeed, INVALID_PARAMETER_VALUE otherwise.
Error RestFailure(const RestResponse& response, std::string_view doing);

/// The SLURM operations through slurmrestd. Thread-safe.
class RestSlurmController final : public SlurmController {
 public:
  RestSlurmController(RestSlurmOptions options, std::shared_ptr<RestTransport> transport);

  /// GET /slurm/v0.0.38/ping with the credentials: fails, saying why, when slurmrestd does not
  /// answer, refuses them, or reports slurmctld down.
  Result<void> Ping();

  [[nodiscard]] std::string_view name() const override { return "slurmrestd"; }
  [[nodiscard]] Result<void> CheckJob(const BatchJob& job) const override;
  Result<std::string> Submit(const BatchJob& job,
                             const std::filesystem::path& script_path) override;
  Result<SlurmJobTable> Queue(const std::vector<std::string>& job_ids) override;
  Result<SlurmJobTable> Accounting(const std::vector<std::string>& job_ids) override;
  Result<void> Terminate(const std::string& job_id) override;
  Result<void> Cancel(const std::string& job_id) override;

 private:
  Result<RestResponse> Send(std::string_view method, const std::string& path_and_query,
                            std::string_view body = {});
  Result<void> Delete(const std::string& job_id, std::string_view query, std::string_view doing);

  RestSlurmOptions options_;
  std::shared_ptr<RestTransport> transport_;
  TokenFile token_;
};

}  // namespace mltf::gateway::executors::slurm
