// Nothing lost on interruption (issue 9): `difflab train-ddpm` killed with SIGKILL at random
// moments, and in the middle of its atomic writes (checkpoints, config, metrics, sample grids),
// then resumed each time, ends with the same bits as a run that was never interrupted. A second
// process cannot write a run folder that is in use.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string fresh_dir(const std::string& name) { return fresh_temp_dir("kill_" + name); }

// The run under test: checkpoints every 3 steps, so a random moment often falls in a write.
std::vector<std::string> train_args(const std::string& dir, bool resume) {
  std::vector<std::string> a = {"train-ddpm", "--run", dir, "--threads", "1"};
  if (resume) {
    a.push_back("--resume");
  } else {
    for (const char* s :
         {"--preset", "ddpm_tiny", "--set", "train.steps=400", "--set", "train.checkpoint_every=3",
          "--set", "train.eval_every=50", "--set", "train.log_every=10"})
      a.push_back(s);
  }
  return a;
}

// The difflab executable; kill_in_write > 0 sets the test hook that SIGKILLs the process
// halfway through its n-th atomic write.
pid_t spawn(const std::vector<std::string>& args, const std::string& log, int kill_in_write = 0) {
  pid_t pid =
      spawn_difflab(args, log, {{"DIFFLAB_TEST_KILL_IN_WRITE", std::to_string(kill_in_write)}});
  BOOST_REQUIRE(pid >= 0);
  return pid;
}

bool exited_ok(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }
bool was_killed(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL; }

// Every tensor of two safetensors files, bit for bit; returns how many were compared.
int compare_files(const std::string& a, const std::string& b) {
  FileComparison r = compare_safetensors(a, b);
  BOOST_TEST(r.unmatched == 0, a << " vs " << b);
  BOOST_TEST(r.differing == 0, a << " vs " << b);
  return r.compared;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_then_resume_is_bit_exact) {
  const std::string ref = fresh_dir("reference"), run = fresh_dir("interrupted");
  const std::string log = fresh_dir("log.txt");
  auto t0 = Clock::now();
  int st = wait_status(spawn(train_args(ref, false), log));
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  BOOST_REQUIRE_MESSAGE(exited_ok(st), "the uninterrupted run failed; see " << log);
  BOOST_TEST_MESSAGE("uninterrupted run: " << seconds << " s");

  // Random moments from a seed printed here (DIFFLAB_KILL_SEED reproduces a failure).
  const char* env_seed = std::getenv("DIFFLAB_KILL_SEED");
  const unsigned seed = env_seed ? unsigned(std::atol(env_seed)) : std::random_device{}();
  BOOST_TEST_MESSAGE("kill seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> when(0.03 * seconds, 0.12 * seconds);
  std::uniform_int_distribution<int> which_write(1, 24);

  int killed_by_timer = 0, killed_in_write = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const bool resume = fs::exists(run + "/config.json");
    if (attempt % 2 == 1) {
      // The process kills itself halfway through one of its atomic writes.
      const int n = which_write(rng);
      st = wait_status(spawn(train_args(run, resume), log, n));
      BOOST_TEST_MESSAGE("attempt " << attempt << ": kill in atomic write " << n << " -> "
                                    << (was_killed(st) ? "killed" : "finished"));
      killed_in_write += was_killed(st);
    } else {
      pid_t pid = spawn(train_args(run, resume), log);
      const double d = when(rng);
      std::this_thread::sleep_for(std::chrono::duration<double>(d));
      ::kill(pid, SIGKILL);
      st = wait_status(pid);
      BOOST_TEST_MESSAGE("attempt " << attempt << ": SIGKILL after " << d << " s -> "
                                    << (was_killed(st) ? "killed" : "finished"));
      killed_by_timer += was_killed(st);
    }
    BOOST_REQUIRE_MESSAGE(was_killed(st) || exited_ok(st),
                          "a run ended neither by the kill nor normally; see " << log);
  }
  BOOST_TEST(killed_by_timer >= 3);
  BOOST_TEST(killed_in_write >= 3);

  st = wait_status(spawn(train_args(run, fs::exists(run + "/config.json")), log));
  BOOST_REQUIRE_MESSAGE(exited_ok(st), "the final resume failed; see " << log);

  BOOST_TEST(compare_files(ref + "/checkpoints/state.safetensors",
                           run + "/checkpoints/state.safetensors") > 10);
  BOOST_TEST(compare_files(ref + "/checkpoints/ema.safetensors",
                           run + "/checkpoints/ema.safetensors") > 5);
  auto ma = RunFolder(ref).read_metrics(), mb = RunFolder(run).read_metrics();
  BOOST_REQUIRE_EQUAL(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    BOOST_TEST(ma[i].step == mb[i].step);
    BOOST_TEST(ma[i].metric == mb[i].metric);
    BOOST_TEST(ma[i].value == mb[i].value, ma[i].metric << " at step " << ma[i].step);
  }
  BOOST_TEST(fs::exists(run + "/report.html"));
  // Temporary files of the killed writes were swept by the next process.
  for (auto& e : fs::recursive_directory_iterator(run))
    BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos, e.path());
  fs::remove_all(ref);
  fs::remove_all(run);
  fs::remove(log);
}

BOOST_AUTO_TEST_CASE(a_run_folder_in_use_is_refused) {
  const std::string dir = fresh_dir("busy"), log = fresh_dir("busy_log.txt");
  std::vector<std::string> args = train_args(dir, false);
  args.push_back("--set");
  args.push_back("train.steps=1000000");
  pid_t pid = spawn(args, log);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir + "/config.json") && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE(fs::exists(dir + "/config.json"));
  CommandArgs again;
  again.run_dir = dir;
  again.resume = true;
  BOOST_CHECK_EXCEPTION(run_train_ddpm(again), difflab::Error, [&](const difflab::Error& e) {
    const std::string p = std::to_string(pid);
    return message_has(e, {dir.c_str(), "in use by another difflab process", p.c_str()});
  });
  ::kill(pid, SIGKILL);
  BOOST_TEST(was_killed(wait_status(pid)));
  // The lock dies with its process: the run can be resumed now (stopped after one more step).
  again.sets = {"train.stop_after=1"};
  BOOST_TEST(run_train_ddpm(again) == 0);
  fs::remove_all(dir);
  fs::remove(log);
}

// Ctrl-C (SIGINT) or SIGTERM mid-run: the loop finishes its update, saves its state and exits
// with status 130 saying how to continue; --resume then goes on from that step.
BOOST_AUTO_TEST_CASE(sigint_saves_the_state_and_resume_continues) {
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string run = fresh_dir(sig == SIGINT ? "sigint" : "sigterm");
    const std::string log = fresh_dir("sigint_log.txt");
    // Long enough that it cannot finish before the signal; no checkpoint or evaluation of its own.
    pid_t pid = spawn({"train-ddpm", "--run", run, "--threads", "1", "--preset", "ddpm_tiny", "--set",
                       "train.steps=1000000", "--set", "train.checkpoint_every=1000000", "--set",
                       "train.eval_every=1000000", "--set", "train.log_every=5"},
                      log);
    // Wait for the first loss row: the loop is running.
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline &&
           (!fs::exists(run + "/metrics.csv") ||
            read_file(run + "/metrics.csv").find(",loss,") == std::string::npos))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_REQUIRE(::kill(pid, sig) == 0);
    int st = wait_status(pid);
    BOOST_TEST(WIFEXITED(st));
    BOOST_TEST(WEXITSTATUS(st) == 130, "exit status " << WEXITSTATUS(st) << "; see " << log);
    BOOST_TEST(read_file(log).find("continue with --resume") != std::string::npos);
    const int64_t step = nn::load_train_state(run + "/checkpoints/state.safetensors").step;
    BOOST_TEST(step >= 5);
    // Resumed for five more steps.
    st = wait_status(spawn({"train-ddpm", "--run", run, "--resume", "--set",
                            "train.stop_after=" + std::to_string(step + 5)},
                           log));
    BOOST_TEST(exited_ok(st));
    BOOST_TEST(nn::load_train_state(run + "/checkpoints/state.safetensors").step == step + 5);
  }
}
