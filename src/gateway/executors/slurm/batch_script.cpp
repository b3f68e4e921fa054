// batch_script.cpp - renders the sbatch script of an attempt, refusing what cannot be written
// safely.
#include "gateway/executors/slurm/batch_script.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/shell_text.hpp"

namespace mltf::gateway::executors::slurm {
namespace {

constexpr std::size_t kMaxValueLength = 4096;
constexpr std::size_t kMaxOptionLength = 255;
constexpr std::int64_t kMaxSignalSeconds = 65535;
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20U;
constexpr std::size_t kJobNamePrefixLength = 8;

// Characters a path may have where it is written into an `#SBATCH` line: sbatch splits those
// lines at whitespace and interprets quotes, and SLURM expands '%' in file names.
constexpr std::string_view kSbatchPathChars = "._/+-,=@~:";

// SLURM's --mail-type values (sbatch(1)).
constexpr std::array<std::string_view, 13> kMailTypes = {
    "NONE",          "BEGIN",          "END",        "FAIL",       "REQUEUE",
    "ALL",           "INVALID_DEPEND", "STAGE_OUT",  "TIME_LIMIT", "TIME_LIMIT_90",
    "TIME_LIMIT_80", "TIME_LIMIT_50",  "ARRAY_TASKS"};

// Options the executor owns: an operator option may not change them, or the service would lose
// the job's output, its requeue behaviour or the checkpoint signal.
constexpr std::array<std::string_view, 10> kExecutorOptions = {
    "--output",     "--error",  "--open-mode", "--chdir",  "--requeue",
    "--no-requeue", "--signal", "--wrap",      "--export", "--parsable"};

// Variables the script or the runner sets; a task may not override them.
bool IsReservedVariable(std::string_view name) {
  return name.starts_with("MLTF_") || name.starts_with("SLURM_") || name == "MASTER_ADDR" ||
         name == "MASTER_PORT";
}

Error Refuse(std::string_view what, std::string_view why) {
  return Error::InvalidParameter(
      fmt::format("Cannot write the SLURM batch script: {} {}", what, why));
}

bool IsAlnum(char chr) {
  return (chr >= 'a' && chr <= 'z') || (chr >= 'A' && chr <= 'Z') || (chr >= '0' && chr <= '9');
}

char ToUpper(char chr) {
  return (chr >= 'a' && chr <= 'z') ? static_cast<char>(chr - 'a' + 'A') : chr;
}

// Any value: bounded and without control characters (a newline would start a new line of the
// script, e.g. "#SBATCH --wrap=...").
Result<void> CheckPlain(std::string_view what, std::string_view text) {
  if (text.size() > kMaxValueLength) {
    return Fail(Refuse(what, fmt::format("is longer than {} bytes", kMaxValueLength)));
  }
  if (const auto byte = FindControlCharacter(text)) {
    return Fail(Refuse(what, fmt::format("'{}' contains a control character (\\x{:02x}); "
                                         "newlines and other control characters are refused",
                                         QuoteForMessage(text), *byte)));
  }
  return {};
}

// A value written after "--option=": not empty, never a leading '-', only letters, digits and
// `extra`.
Result<void> CheckOptionValue(std::string_view what, std::string_view text,
                              std::string_view extra) {
  MLTF_TRY(CheckPlain(what, text));
  if (text.empty()) {
    return Fail(Refuse(what, "must not be empty"));
  }
  if (text.size() > kMaxOptionLength) {
    return Fail(Refuse(what, fmt::format("is longer than {} characters", kMaxOptionLength)));
  }
  if (text.front() == '-') {
    return Fail(Refuse(what, fmt::format("'{}' must not start with '-'", QuoteForMessage(text))));
  }
  for (const char chr : text) {
    if (!IsAlnum(chr) && extra.find(chr) == std::string_view::npos) {
      return Fail(Refuse(what, fmt::format("'{}' contains '{}'; only letters, digits and '{}' "
                                           "are allowed",
                                           QuoteForMessage(text),
                                           QuoteForMessage(std::string_view(&chr, 1)), extra)));
    }
  }
  return {};
}

// A path the script uses: absolute (the job does not start where the service runs) and, where
// it goes into an #SBATCH line, of the narrow set sbatch reads literally.
Result<void> CheckPath(std::string_view what, const std::filesystem::path& path,
                       bool in_sbatch_line) {
  const std::string text = path.string();
  MLTF_TRY(CheckPlain(what, text));
  if (text.empty() || !path.is_absolute()) {
    return Fail(Refuse(what, fmt::format("'{}' must be an absolute path on a filesystem the "
                                         "nodes share",
                                         QuoteForMessage(text))));
  }
  if (in_sbatch_line) {
    MLTF_TRY(CheckOptionValue(what, text, kSbatchPathChars));
  }
  return {};
}

// The user's output file name: relative, inside the task directory, with SLURM's %-patterns.
Result<std::string> OutputFile(const AttemptRequest& attempt,
                               const scheduler::ResourceRequest& resources) {
  if (resources.output.empty()) {
    return (attempt.task_dir / "slurm-%j.out").string();
  }
  MLTF_TRY(CheckOptionValue("output", resources.output, "._/%-"));
  if (resources.output.front() == '/') {
    return Fail(Refuse("output", "must be a relative path (inside the task directory)"));
  }
  std::string_view rest = resources.output;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") {
      return Fail(Refuse("output", "must not contain '..' (it stays inside the task directory)"));
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return (attempt.task_dir / resources.output).string();
}

Result<std::string> MailType(std::string_view text) {
  MLTF_TRY(CheckOptionValue("mail-type", text, "_,"));
  std::string out;
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    std::string word(rest.substr(0, comma));
    std::transform(word.begin(), word.end(), word.begin(), ToUpper);
    if (std::find(kMailTypes.begin(), kMailTypes.end(), word) == kMailTypes.end()) {
      std::string known;
      for (const auto type : kMailTypes) {
        known += known.empty() ? "" : ", ";
        known += type;
      }
      return Fail(
          Refuse("mail-type", fmt::format("'{}' is not one of {}", QuoteForMessage(word), known)));
    }
    out += out.empty() ? "" : ",";
    out += word;
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  return out;
}

Result<std::string> Gres(const scheduler::ResourceRequest& resources) {
  std::string gres;
  if (resources.gpus > 0) {
    if (resources.gpus > scheduler::kMaxGpus) {
      return Fail(
          Refuse("gpus", fmt::format("{} is more than {}", resources.gpus, scheduler::kMaxGpus)));
    }
    gres = "gpu";
    if (!resources.gpu_type.empty()) {
      MLTF_TRY(CheckOptionValue("gpu_type", resources.gpu_type, "._-"));
      gres += ":" + resources.gpu_type;
    }
    gres += fmt::format(":{}", resources.gpus);
  } else if (resources.gpus < 0) {
    return Fail(Refuse("gpus", "must not be negative"));
  }
  if (const auto other = resources.other.find("gres"); other != resources.other.end()) {
    MLTF_TRY(CheckOptionValue("gres", other->second, "._:,-"));
    gres += gres.empty() ? "" : ",";
    gres += other->second;
  }
  return gres;
}

Result<void> CheckOperatorOption(std::string_view option) {
  MLTF_TRY(CheckPlain("operator sbatch option", option));
  if (option.size() < 3 || !option.starts_with("--") || !IsAlnum(option[2])) {
    return Fail(Refuse(
        "operator sbatch option",
        fmt::format("'{}' must be a long option such as --qos=normal", QuoteForMessage(option))));
  }
  for (const char chr : option) {
    if (chr == ' ' || chr == '"' || chr == '\'' || chr == '\\' || chr == '#') {
      return Fail(Refuse("operator sbatch option",
                         fmt::format("'{}' contains '{}', which an #SBATCH line cannot carry",
                                     QuoteForMessage(option), chr)));
    }
  }
  const std::string_view name = option.substr(0, option.find('='));
  if (std::find(kExecutorOptions.begin(), kExecutorOptions.end(), name) != kExecutorOptions.end()) {
    return Fail(
        Refuse("operator sbatch option",
               fmt::format("'{}' is set by the SLURM executor itself", QuoteForMessage(option))));
  }
  return {};
}

Result<std::string> ExportLine(std::string_view what, std::string_view name,
                               std::string_view value) {
  MLTF_TRY(CheckPlain(what, name));
  if (!IsShellIdentifier(name)) {
    return Fail(Refuse(what, fmt::format("'{}' is not a variable name (letters, digits and '_', "
                                         "not starting with a digit)",
                                         QuoteForMessage(name))));
  }
  MLTF_TRY(CheckPlain(what, value));
  return fmt::format("export {}={}\n", name, ShellQuote(value));
}

Result<void> CheckCounts(const scheduler::ResourceRequest& resources) {
  if (resources.nodes < 1 || resources.nodes > scheduler::kMaxNodes) {
    return Fail(Refuse(
        "nodes", fmt::format("{} is not between 1 and {}", resources.nodes, scheduler::kMaxNodes)));
  }
  if (resources.tasks_per_node < 1 || resources.tasks_per_node > scheduler::kMaxTasksPerNode) {
    return Fail(Refuse("ntasks-per-node",
                       fmt::format("{} is not between 1 and {}", resources.tasks_per_node,
                                   scheduler::kMaxTasksPerNode)));
  }
  if (resources.cpus < 1 || resources.cpus > scheduler::kMaxCpus) {
    return Fail(Refuse("cpus-per-task", fmt::format("{} is not between 1 and {}", resources.cpus,
                                                    scheduler::kMaxCpus)));
  }
  if (resources.memory_bytes > scheduler::kMaxMemoryBytes) {
    return Fail(Refuse("mem", "is more than 64 TiB"));
  }
  if (resources.time_seconds && *resources.time_seconds <= 0) {
    return Fail(Refuse("time", "must be positive"));
  }
  return {};
}

Result<void> CheckUnsupported(const scheduler::ResourceRequest& resources) {
  if (!resources.sbatch_script_file.empty()) {
    return Fail(
        Refuse("sbatch-script-file",
               "is not supported: the facility writes the batch script itself (it starts `mltf "
               "run-task`, which prepares the environment and reports the run); remove the key and "
               "use modules, environment and the MLproject entry point instead"));
  }
  if (!resources.exports.empty()) {
    return Fail(Refuse(
        "exports",
        "is not supported: it would pass variables of the submitting environment, which here is "
        "the MLTF service and not your shell; set the values with 'environment' instead"));
  }
  for (const auto& [key, value] : resources.other) {
    if (key != "gres" && key != "debug") {
      return Fail(Refuse(fmt::format("resource '{}'", QuoteForMessage(key)),
                         "is not known to the SLURM executor"));
    }
  }
  return {};
}

void AppendRunner(std::string& script, const scheduler::ResourceRequest& resources,
                  const std::string& runner, bool signal_steps, bool preemptible) {
  if (resources.nodes == 1) {
    if (signal_steps && preemptible) {
      // SLURM sends the checkpoint signal to steps only: this one passes it on to the runner,
      // which is this shell once exec'd, and ends with it.
      script +=
          "srun --overlap --nodes=1 --ntasks=1 --cpus-per-task=1 --export=ALL bash -c "
          "'trap \"kill -USR1 $0\" USR1; while kill -0 \"$0\" 2>/dev/null; do sleep 1 & wait $!; "
          "done' \"$$\" &\n";
    }
    // exec: the runner is the batch shell, so SIGTERM (and a --signal=B: signal) reaches it
    // directly.
    script += fmt::format("exec {}\n", runner);
    return;
  }
  // One runner per node; it starts the node's ranks and their torch.distributed rendezvous.
  // The first node's address: its NodeAddr, which is its name unless the cluster says otherwise
  // (names need not resolve, e.g. where several slurmd share one host).
  script += "first_node=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n1)\n";
  script +=
      "MASTER_ADDR=$(scontrol show node \"$first_node\" -o | sed -n "
      "'s/.* NodeAddr=\\([^ ]*\\).*/\\1/p')\n";
  script += "export MASTER_ADDR=${MASTER_ADDR:-$first_node}\n";
  script += "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))\n";
  script += "srun_pid=\n";
  if (signal_steps) {
    // SLURM signals srun and the step itself; the shell only has to outlive the signals it
    // gets too. A no-op trap, not an ignored signal: srun must not inherit SIG_IGN.
    script += "trap : USR1 TERM\n";
  } else {
    // The batch shell gets the checkpoint and stop signals; srun forwards them to every node.
    // The traps exist before srun starts, so no signal can kill the shell in between.
    script += "trap '[ -n \"$srun_pid\" ] && kill -USR1 \"$srun_pid\" 2>/dev/null' USR1\n";
    script += "trap '[ -n \"$srun_pid\" ] && kill -TERM \"$srun_pid\" 2>/dev/null' TERM\n";
  }
  // --export=ALL: sbatch ran with --export=NONE, which srun would otherwise inherit and drop
  // the variables above.
  script += fmt::format(
      "srun --kill-on-bad-exit=1 --export=ALL --nodes={0} --ntasks={0} --ntasks-per-node=1 "
      "--cpus-per-task={1} {2} &\n",
      resources.nodes, resources.cpus * resources.tasks_per_node, runner);
  script += "srun_pid=$!\n";
  // wait returns early when a trapped signal arrives; keep waiting until srun is gone.
  script += "while true; do\n";
  script += "  wait \"$srun_pid\"\n";
  script += "  status=$?\n";
  script += "  if ! kill -0 \"$srun_pid\" 2>/dev/null; then\n";
  script += "    exit \"$status\"\n";
  script += "  fi\n";
  script += "done\n";
}

}  // namespace

std::string SlurmMemoryOption(std::uint64_t bytes) {
  return fmt::format("{}M", (bytes + kMiB - 1) / kMiB);
}

std::string SlurmTimeOption(std::int64_t seconds) {
  constexpr std::int64_t kMinute = 60;
  constexpr std::int64_t kHour = 60 * kMinute;
  constexpr std::int64_t kDay = 24 * kHour;
  return fmt::format("{}-{:02}:{:02}:{:02}", seconds / kDay, (seconds % kDay) / kHour,
                     (seconds % kHour) / kMinute, seconds % kMinute);
}

std::vector<std::string> SbatchArguments() { return {"--parsable", "--export=NONE"}; }

Result<std::string> RenderBatchScript(const AttemptRequest& attempt,
                                      const scheduler::ResourceRequest& resources, bool preemptible,
                                      const BatchScriptOptions& options) {
  MLTF_ASSIGN_OR_RETURN(job, RenderBatchJob(attempt, resources, preemptible, options));
  return std::move(job.script);
}

Result<BatchJob> RenderBatchJob(const AttemptRequest& attempt,
                                const scheduler::ResourceRequest& resources, bool preemptible,
                                const BatchScriptOptions& options) {
  MLTF_TRY(CheckUnsupported(resources));
  MLTF_TRY(CheckCounts(resources));
  MLTF_TRY(CheckOptionValue("task id", attempt.task_id, "_-"));
  if (attempt.attempt < 1) {
    return Fail(Refuse("attempt", fmt::format("{} must be at least 1", attempt.attempt)));
  }
  MLTF_TRY(CheckPath("task directory", attempt.task_dir, true));
  MLTF_TRY(CheckPath("attempt file", attempt.attempt_file, false));
  MLTF_TRY(CheckPath("runner binary", options.runner_binary, false));
  for (const auto& option : options.operator_sbatch_options) {
    MLTF_TRY(CheckOperatorOption(option));
  }
  const auto grace = options.preempt_grace.count();
  if (preemptible && (grace < 1 || grace > kMaxSignalSeconds)) {
    return Fail(Refuse("preempt grace",
                       fmt::format("{} s is not between 1 s and {} s", grace, kMaxSignalSeconds)));
  }

  std::vector<std::string> sbatch = options.operator_sbatch_options;
  auto add = [&sbatch](std::string_view name, std::string_view value) {
    sbatch.push_back(value.empty() ? std::string(name) : fmt::format("{}={}", name, value));
  };
  if (resources.job_name.empty()) {
    add("--job-name", "mltf-" + attempt.task_id.substr(0, kJobNamePrefixLength));
  } else {
    MLTF_TRY(CheckOptionValue("job-name", resources.job_name, "._+-"));
    add("--job-name", resources.job_name);
  }
  add("--chdir", attempt.task_dir.string());
  MLTF_ASSIGN_OR_RETURN(output, OutputFile(attempt, resources));
  MLTF_TRY(CheckOptionValue("output", output, "._/+-,=@~:%"));
  add("--output", output);
  add("--error", output);
  // Requeued attempts append to the same file instead of truncating it.
  add("--open-mode", "append");
  add("--nodes", std::to_string(resources.nodes));
  add("--ntasks-per-node", std::to_string(resources.tasks_per_node));
  add("--cpus-per-task", std::to_string(resources.cpus));
  if (resources.memory_bytes > 0) {
    add("--mem", SlurmMemoryOption(resources.memory_bytes));
  }
  if (resources.time_seconds) {
    add("--time", SlurmTimeOption(*resources.time_seconds));
  }
  if (!resources.partition.empty()) {
    MLTF_TRY(CheckOptionValue("partition", resources.partition, "._,-"));
    add("--partition", resources.partition);
  }
  if (!resources.account.empty()) {
    MLTF_TRY(CheckOptionValue("account", resources.account, "._-"));
    add("--account", resources.account);
  }
  MLTF_ASSIGN_OR_RETURN(gres, Gres(resources));
  if (!gres.empty()) {
    add("--gres", gres);
  }
  if (resources.exclusive) {
    add("--exclusive", "");
  }
  if (!resources.mail_user.empty()) {
    MLTF_TRY(CheckOptionValue("mail-user", resources.mail_user, "._%+@-"));
    add("--mail-user", resources.mail_user);
  }
  if (!resources.mail_type.empty()) {
    MLTF_ASSIGN_OR_RETURN(mail_type, MailType(resources.mail_type));
    add("--mail-type", mail_type);
  }
  if (preemptible) {
    add("--requeue", "");
    add("--signal", fmt::format("{}USR1@{}", options.signal_steps ? "" : "B:", grace));
  } else {
    // The service decides about retries (a new attempt), not SLURM.
    add("--no-requeue", "");
  }

  std::string script = "#!/bin/bash\n";
  script +=
      fmt::format("# MLTF task {} attempt {}: written by the service, runs `mltf run-task`.\n",
                  attempt.task_id, attempt.attempt);
  for (const auto& option : sbatch) {
    script += fmt::format("#SBATCH {}\n", option);
  }
  script += "\n";
  for (const auto& module : resources.modules) {
    MLTF_TRY(CheckOptionValue("module", module, "._+/-"));
    script += fmt::format("module load {}\n", ShellQuote(module));
  }
  for (const auto& [name, value] : options.nccl_environment) {
    MLTF_ASSIGN_OR_RETURN(line, ExportLine("operator NCCL variable", name, value));
    script += line;
  }
  for (const auto& [name, value] : resources.environment) {
    MLTF_ASSIGN_OR_RETURN(line, ExportLine("environment", name, value));
    if (IsReservedVariable(name)) {
      return Fail(Refuse("environment", fmt::format("'{}' is set by MLTF or SLURM (MLTF_*, "
                                                    "SLURM_*, MASTER_ADDR, MASTER_PORT)",
                                                    name)));
    }
    script += line;
  }
  const std::string runner =
      fmt::format("{} run-task --attempt-file {}", ShellQuote(options.runner_binary.string()),
                  ShellQuote(attempt.attempt_file.string()));
  AppendRunner(script, resources, runner, options.signal_steps, preemptible);
  return BatchJob{.options = std::move(sbatch), .script = std::move(script)};
}

}  // namespace mltf::gateway::executors::slurm
