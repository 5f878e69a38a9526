// The shared pieces of experiments/: the training loop (a run cancelled by its hook or by the
// cancel flag saves its state and resumes to the uninterrupted run's bits; the EMA policy of
// its states), the command table (every command's keys, `difflab presets`), and renamed keys
// (refused by name, translated in an old run folder's config.json).
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "experiments/cancel.h"
#include "experiments/command_table.h"
#include "experiments/io.h"
#include "experiments/presets.h"
#include "experiments/sample_eval.h"
#include "experiments/train_flux.h"
#include "experiments/train_loop.h"
#include "autograd/functions.h"
#include "nn/layers.h"
#include "tensor/ops.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;
using tensor::Tensor;

namespace {

// A least-squares fit of a linear map to fixed random data, with noise in the loss, trained by
// run_train_loop in `dir` for 12 updates; `stop` (if set) is the on_step hook.
struct TinyFit {
  Tensor x, y;
  std::shared_ptr<nn::Linear> net;
  TinyFit() {
    tensor::Generator g(3);
    x = tensor::randn({64, 4}, tensor::DType::f32, &g);
    y = tensor::randn({64, 2}, tensor::DType::f32, &g);
    tensor::Generator init(5);
    net = std::make_shared<nn::Linear>(4, 2, true, &init);
  }
  LoopEnd train(const std::string& dir, bool resume,
                std::function<bool(int64_t, double)> stop = nullptr, double ema = 0.9) {
    RunFolder run(dir);
    std::optional<nn::TrainState> from = resume_point(run, resume);
    RunTiming timing(run, from.has_value());
    TrainTask task;
    task.command = "tiny-fit";
    task.label = "fit";
    task.module = net.get();
    task.loss = [this](const Tensor& idx, tensor::Generator& g) {
      ag::Var out = net->forward(ag::Var(take_rows(x, idx)));
      Tensor noisy = tensor::binary(tensor::BinaryOp::add, take_rows(y, idx),
                                 tensor::affine(tensor::randn({idx.numel(), 2}, tensor::DType::f32, &g), 0.1, 0.0));
      return ag::mean(ag::square(ag::sub(out, ag::Var(noisy))), {});
    };
    task.lr = nn::warmup_cosine_lr(0.05, 2, 12);
    task.on_step = stop;
    LoopSettings s;
    s.updates = 12, s.lr = 0.05, s.ema_decay = ema, s.log_every = 5, s.checkpoint_every = 5;
    RunCursor cursor(tensor::Generator(7), BatchIterator(64, 16, 9), tensor::Generator(8));
    return run_train_loop(task, s, cursor, {run, "{}", timing}, from ? from->step : 0,
                          from ? &*from : nullptr);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_cancelled_loop_saves_and_resumes_to_the_same_bits) {
  const std::string a = fresh_temp_dir("loop_whole"), b = fresh_temp_dir("loop_cancelled");
  BOOST_TEST((TinyFit().train(a, false) == LoopEnd::finished));
  // Cancelled by the hook after update 7 (between checkpoints), then resumed.
  BOOST_TEST((TinyFit().train(b, false, [](int64_t step, double) { return step < 7; }) ==
              LoopEnd::stopped));
  BOOST_TEST(nn::load_train_state(b + "/checkpoints/state.safetensors").step == 7);
  BOOST_TEST((TinyFit().train(b, true) == LoopEnd::finished));
  FileComparison cmp = compare_safetensors(a + "/checkpoints/state.safetensors",
                                           b + "/checkpoints/state.safetensors");
  BOOST_TEST(cmp.compared > 0);
  BOOST_TEST(cmp.differing == 0);
  BOOST_TEST(cmp.unmatched == 0);
  BOOST_TEST(read_file(a + "/metrics.csv") == read_file(b + "/metrics.csv"));
  // The process-wide flag (SIGINT/SIGTERM set it) stops the loop the same way.
  const std::string c = fresh_temp_dir("loop_flag");
  auto flag_at_3 = [](int64_t step, double) {
    if (step == 3) request_cancel();
    return true;
  };
  BOOST_TEST((TinyFit().train(c, false, flag_at_3) == LoopEnd::stopped));
  clear_cancel();
  BOOST_TEST(nn::load_train_state(c + "/checkpoints/state.safetensors").step == 3);
}

BOOST_AUTO_TEST_CASE(states_hold_ema_shadows_as_the_task_says) {
  const std::string d = fresh_temp_dir("loop_ema");
  TinyFit().train(d, false, nullptr, /*ema=*/0.0);  // EmaInState::always: shadows at decay 0
  BOOST_TEST(nn::load_train_state(d + "/checkpoints/state.safetensors").has_ema);
}

BOOST_AUTO_TEST_CASE(the_command_table_declares_every_command_once) {
  std::vector<std::string> names;
  for (const CommandSpec& c : command_table()) {
    BOOST_TEST(find_command(c.name) == &c, c.name << " is not unique");
    BOOST_TEST(bool(c.run), c.name);
    if (c.keys) BOOST_TEST(!c.keys().help().empty(), c.name);
    names.push_back(c.name);
  }
  for (const char* n : {"train-ddpm", "sample", "eval", "distill", "train-drift", "train-flux",
                        "drift-align", "drift-compare", "compare-runs", "presets"})
    BOOST_TEST(find_command(n) != nullptr, n << " is missing from the table");
  BOOST_TEST(find_command("train-gan") == nullptr);
}

BOOST_AUTO_TEST_CASE(presets_are_listed_with_their_comments_and_suggested) {
  std::vector<PresetInfo> ps = list_presets();
  BOOST_TEST(ps.size() >= 15u);
  bool ring = false;
  for (const PresetInfo& p : ps)
    if (p.name == "ddpm_ring") ring = p.comment.find("ring of 8 Gaussians") != std::string::npos;
  BOOST_TEST(ring, "ddpm_ring is missing or has lost its _comment");
  BOOST_TEST(nearest_presets("flux_tiyn").front() == "flux_tiny");
  CommandArgs a;
  a.preset = "drift_tinny";
  Config cfg = find_command("train-drift")->keys();
  BOOST_CHECK_EXCEPTION(resolve_config(cfg, a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"unknown preset 'drift_tinny'", "drift_tiny", "difflab presets"});
  });
  // Without a presets folder the error is still difflab's, naming the file.
  setenv("DIFFLAB_CONFIG_DIR", "/nonexistent/configs", 1);
  Config again = find_command("train-drift")->keys();
  BOOST_CHECK_EXCEPTION(resolve_config(again, a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"unknown preset 'drift_tinny'", "/nonexistent/configs"});
  });
  unsetenv("DIFFLAB_CONFIG_DIR");
}

// train-flux's Langevin keys were sample.*: refused by that name, read from old run folders.
BOOST_AUTO_TEST_CASE(renamed_keys_are_refused_and_old_run_folders_still_load) {
  CommandArgs a;
  a.preset = "flux_tiny";
  a.sets = {"sample.step_size=0.1"};
  Config cfg = flux_config();
  BOOST_CHECK_EXCEPTION(resolve_config(cfg, a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"'sample.step_size' is now 'langevin.step_size'"});
  });
  // A run folder written before the rename: its config.json says sample.steps = 7.
  const std::string d = fresh_temp_dir("flux_old_keys");
  fs::create_directories(d);
  write_file_atomic(d + "/config.json",
                    "{\"data\": {\"name\": \"ring8\", \"n_train\": 256, \"n_test\": 64},"
                    " \"model\": {\"hidden\": 16, \"depth\": 1},"
                    " \"sample\": {\"steps\": 7, \"step_size\": 0.01, \"init_std\": 1.0},"
                    " \"flux\": {\"sigma2\": 0.05}, \"eval\": {\"n\": 64}, \"threads\": 1}");
  CommandArgs old;
  old.run_dir = d;
  Config loaded = command_config(flux_config(), old, d, true);
  BOOST_TEST(loaded.get_int("langevin.steps") == 7);
  BOOST_TEST(loaded.get_double("langevin.step_size") == 0.01);
}

// In-process callers set typed values: checked like a file's, never parsed from text.
BOOST_AUTO_TEST_CASE(put_assigns_typed_values_with_the_usual_checks) {
  Config c = find_command("train-ddpm")->keys();
  c.put("train.steps", 7).put("train.lr", 0.5).put("sample.sampler", "ddim");
  BOOST_TEST(c.get_int("train.steps") == 7);
  BOOST_TEST(c.get_double("train.lr") == 0.5);
  BOOST_TEST(c.get_string("sample.sampler") == "ddim");
  BOOST_CHECK_EXCEPTION(c.put("train.steps", "many"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train.steps", "expects an integer"});
  });
  BOOST_CHECK_EXCEPTION(c.put("sample.sampler", "euler_a"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"euler_a", "ddim"}); });
}
