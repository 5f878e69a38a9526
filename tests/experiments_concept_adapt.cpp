// Concept discovery's step 5b (experiments/concept_adapt): a new class (label row + LoRA) fitted
// into a tiny frozen class-conditional U-Net on a pool of random images. The adapter moves and
// lowers the loss while every base weight keeps its bits; a cancelled, then stopped fit resumed
// ends bit-identical to a whole one; a finished folder is loaded, not retrained; the new label
// samples with guidance; the query-only pool's shifts; bad input named. No MNIST needed.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>

#include "autograd/grad_mode.h"
#include "diffusion/loss.h"
#include "experiments/cancel.h"
#include "experiments/concept_adapt.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "nn/lora.h"
#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;
using ag::Var;

namespace {

// Tiny tensors: one thread, so that a busy machine's other processes cannot stall OpenMP's
// barriers (0.7 s single-threaded against 20 s at two threads on two busy cores).
struct OneThread {
  OneThread() { tensor::set_num_threads(1); }
};
BOOST_TEST_GLOBAL_FIXTURE(OneThread);

// The "pretrained" model: a freshly initialised class-conditional U-Net (base 8, mults 1,2,
// 3 classes) on 3×28×28 images, the same weights on every call.
std::shared_ptr<DdpmModel> tiny_base(bool class_cond = true) {
  Dataset data;
  data.name = "synthetic";
  data.images = true;
  tensor::Generator g(5);
  data.train = tensor::uniform({4, 3, 28, 28}, -1.0, 1.0, DType::f32, &g);
  data.num_classes = 3;
  DdpmModelSettings ms;
  ms.base_channels = 8;
  ms.channel_mults = {1, 2};
  ms.class_cond = class_cond;
  ms.seed = 3;
  auto m = std::make_shared<DdpmModel>(make_ddpm_model(ms, data));
  m->module->eval();
  return m;
}

Tensor pool16() {
  tensor::Generator g(11);
  return tensor::uniform({16, 3, 28, 28}, -1.0, 1.0, DType::f32, &g);
}

Tensor init_row() {
  tensor::Generator g(13);
  return tensor::affine(tensor::randn({32}, DType::f32, &g), 0.02, 0.0);
}

AdaptSettings tiny_settings() {
  AdaptSettings s;
  s.steps = 20;
  s.batch = 4;
  s.checkpoint_every = 10;
  s.log_every = 5;
  s.lr = 1e-2;
  s.seed = 7;
  return s;
}

AdaptedModel fit(const std::string& dir, bool resume, const AdaptSettings& s = tiny_settings()) {
  return fit_adapter([] { return tiny_base(); }, pool16(), init_row(), s, dir, resume);
}

// The pool's diffusion loss under `label`, averaged over 4 fixed noise draws.
double pool_loss(const DdpmModel& m, int64_t label) {
  ag::NoGradGuard ng;
  tensor::Generator g(99);
  const Tensor pool = pool16();
  double sum = 0;
  for (int k = 0; k < 4; ++k)
    sum += diffusion::diffusion_loss(m.net, m.param, *m.schedule, Var(pool),
                                     tensor::full({16}, double(label), DType::i64), m.weighting, g)
               .loss.item();
  return sum / 4;
}

float max_abs(const Tensor& t) {
  float m = 0;
  for (float v : t.contiguous().to_vector<float>())
    m = std::max(m, std::isfinite(v) ? std::abs(v) : INFINITY);
  return m;
}

// The whole 20-step fit, made once and shared by the cases below.
const std::string& whole_dir() {
  static const std::string dir = fresh_temp_dir("concept_adapt_whole");
  return dir;
}
const AdaptedModel& whole_fit() {
  static const AdaptedModel a = fit(whole_dir(), false);
  return a;
}

Tensor forward_new_label(const AdaptedModel& a) {
  ag::NoGradGuard ng;
  tensor::Generator g(21);
  const Tensor x = tensor::randn({2, 3, 28, 28}, DType::f32, &g);
  const Tensor t = tensor::from_vector<float>({0.1f, 0.7f}, {2});
  return a.model->net(Var(x), t, tensor::full({2}, double(a.label), DType::i64)).value();
}

void check_same_run(const std::string& a, const std::string& b) {
  for (const char* f : {"checkpoints/adapter.safetensors", "checkpoints/state.safetensors"}) {
    FileComparison c = compare_safetensors(a + "/" + f, b + "/" + f);
    BOOST_TEST(c.compared > 0, f);
    BOOST_TEST(c.differing == 0, f);
    BOOST_TEST(c.unmatched == 0, f);
  }
  BOOST_TEST(read_file(a + "/metrics.csv") == read_file(b + "/metrics.csv"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(adapted_layers_of_the_color_mnist_a_unet) {
  nn::UNetConfig cfg;  // the ddpm_color_mnist_a preset's U-Net
  cfg.in_channels = 3;
  cfg.base_channels = 16;
  cfg.channel_mults = {1, 2, 2};
  cfg.num_classes = 40;
  tensor::Generator g(1);
  nn::UNet net(cfg, &g);
  const std::vector<std::string> paths = nn::apply_lora(net, nn::LoRAConfig{}, adapter_target, &g);
  BOOST_TEST(net.add_class(tensor::zeros({64})) == 41);
  const std::vector<std::string> want{
      "temb.mlp.0",   "temb.mlp.2", "down.0.res.0.t", "down.1.res.0.t", "mid.res1.t",
      "mid.attn.qkv", "mid.attn.o", "mid.res2.t",     "up.0.res.0.t",   "up.1.res.0.t"};
  BOOST_TEST(paths == want, boost::test_tools::per_element());
  // LoRA A/B: temb 320 + 512, res .t 320 + 384 + 384 + 384 + 384 + 320, attention 512 + 256;
  // plus the 64-wide row.
  BOOST_TEST(net.num_parameters(true) == 3776 + 64);
  BOOST_TEST(!adapter_target("down.0.res.0.c1"));
  BOOST_TEST(!adapter_target("out.2"));
  BOOST_TEST(adapter_target("up.1.attn.1.qkv"));
}

BOOST_AUTO_TEST_CASE(fit_moves_only_the_adapter_and_lowers_the_loss) {
  const AdaptedModel& a = whole_fit();
  BOOST_TEST(a.finished);
  BOOST_TEST(a.label == 4);  // 3 classes, null class 3
  const std::vector<std::string> want{"temb.mlp.0", "temb.mlp.2",   "down.0.res.0.t",
                                      "mid.res1.t", "mid.attn.qkv", "mid.attn.o",
                                      "mid.res2.t", "up.0.res.0.t"};
  BOOST_TEST(a.adapted_paths == want, boost::test_tools::per_element());
  const std::string& d = whole_dir();
  for (const char* f : {"config.json", "metrics.csv", "timing.json",
                        "checkpoints/state.safetensors", "checkpoints/adapter.safetensors"})
    BOOST_TEST(fs::exists(d + "/" + f), f);
  BOOST_TEST(RunFolder(d).read_metrics().size() == 4u);  // loss rows at 5, 10, 15, 20
  // adapter.safetensors: exactly the trainable tensors (A and B per layer, the row).
  nn::SafeTensors adapter = nn::load_safetensors(d + "/checkpoints/adapter.safetensors");
  BOOST_TEST(adapter.tensors.size() == 2 * want.size() + 1);
  int64_t stored = 0;
  for (const auto& [name, t] : adapter.tensors) stored += t.numel();
  BOOST_TEST(stored == a.trainable);
  // Every base weight keeps its bits; the row and every B moved.
  const nn::StateDict now = a.model->module->state_dict();
  for (const auto& [name, t] : tiny_base()->module->state_dict())
    BOOST_TEST(same_bits(now.at(name), t), name << " moved");
  BOOST_TEST(!same_bits(now.at("label_new.0").reshape({32}), init_row()));
  for (const auto& [name, t] : adapter.tensors)
    if (name.size() > 2 && name.substr(name.size() - 2) == ".B") BOOST_TEST(max_abs(t) > 0.f, name);
  // The starting point (B = 0: the base with the initial row) against the fitted adapter.
  std::shared_ptr<DdpmModel> before = tiny_base();
  const int64_t label = dynamic_cast<nn::UNet&>(*before->module).add_class(init_row());
  const double l0 = pool_loss(*before, label), l1 = pool_loss(*a.model, a.label);
  BOOST_TEST_MESSAGE("pool loss " << l0 << " -> " << l1);
  BOOST_TEST(l1 < l0);
}

BOOST_AUTO_TEST_CASE(cancelled_and_stopped_fit_resumes_bit_exactly) {
  const AdaptedModel& whole = whole_fit();
  const std::string d = fresh_temp_dir("concept_adapt_cut");
  request_cancel();  // polled after every update: stops after the first, with a state
  const bool finished = fit(d, false).finished;
  clear_cancel();
  BOOST_TEST(!finished);
  AdaptSettings s = tiny_settings();
  s.stop_after = 7;  // between checkpoints: the loop saves a state where it stops
  BOOST_TEST(!fit(d, true, s).finished);
  BOOST_TEST(fs::exists(d + "/checkpoints/state.safetensors"));
  BOOST_TEST(!fs::exists(d + "/checkpoints/adapter.safetensors"));
  AdaptedModel resumed = fit(d, true);
  BOOST_TEST(resumed.finished);
  check_same_run(whole_dir(), d);
  BOOST_TEST(same_bits(forward_new_label(resumed), forward_new_label(whole)));
}

BOOST_AUTO_TEST_CASE(finished_folder_is_loaded_not_retrained) {
  const AdaptedModel& whole = whole_fit();
  const std::string& d = whole_dir();
  const std::string metrics = read_file(d + "/metrics.csv");
  const auto state_time = fs::last_write_time(d + "/checkpoints/state.safetensors");
  AdaptSettings s = tiny_settings();
  s.stop_after = 1;  // a retraining would stop unfinished
  AdaptedModel loaded = fit(d, false, s);
  BOOST_TEST(loaded.finished);
  BOOST_TEST(loaded.label == whole.label);
  BOOST_TEST(loaded.trainable == whole.trainable);
  BOOST_TEST(read_file(d + "/metrics.csv") == metrics);
  BOOST_TEST((fs::last_write_time(d + "/checkpoints/state.safetensors") == state_time));
  BOOST_TEST(same_bits(forward_new_label(loaded), forward_new_label(whole)));
  s.steps = 30;  // another fit in the same folder is refused, the setting named
  BOOST_CHECK_EXCEPTION(fit(d, false, s), Error, [](const Error& e) {
    return message_has(e, {"fit_adapter", "other settings", "steps: 20 there, 30 now"});
  });
}

BOOST_AUTO_TEST_CASE(new_label_samples_with_guidance) {
  const AdaptedModel& a = whole_fit();
  SampleSettings s;
  s.steps = 4;
  s.labels = tensor::full({3}, double(a.label), DType::i64);
  for (double w : {0.0, 2.0}) {
    s.guidance = w;
    Tensor x = generate(*a.model, 3, s);
    BOOST_TEST((x.shape() == Shape{3, 3, 28, 28}));
    BOOST_TEST(std::isfinite(max_abs(x)), "guidance " << w);
  }
  s.labels = tensor::full({3}, double(a.label + 1), DType::i64);  // beyond the added row
  BOOST_CHECK_EXCEPTION(generate(*a.model, 3, s), Error, [](const Error& e) {
    return message_has(e, {"label 5", "[0, 5)"});
  });
}

BOOST_AUTO_TEST_CASE(shifted_copies_move_the_query_within_range) {
  tensor::Generator g(17);
  const Tensor q = tensor::uniform({1, 3, 28, 28}, 0.0, 1.0, DType::f32, &g);  // no −1 inside
  const int64_t n = 12, m = 2;
  const Tensor c = shifted_copies(q, n, m, 5);
  BOOST_TEST((c.shape() == Shape{n, 3, 28, 28}));
  const std::vector<float> qv = q.to_vector<float>(), cv = c.to_vector<float>();
  int64_t moved = 0;
  for (int64_t i = 0; i < n; ++i) {
    int matches = 0;
    for (int64_t dy = -m; dy <= m; ++dy)
      for (int64_t dx = -m; dx <= m; ++dx) {
        bool same = true;
        for (int64_t k = 0; k < 3 * 28 * 28 && same; ++k) {
          const int64_t ch = k / 784, y = k / 28 % 28, x = k % 28, sy = y - dy, sx = x - dx;
          const bool inside = sy >= 0 && sy < 28 && sx >= 0 && sx < 28;
          const float want = inside ? qv[size_t(ch * 784 + sy * 28 + sx)] : -1.f;
          same = cv[size_t(i * 2352 + k)] == want;
        }
        matches += same;
        moved += same && (dy != 0 || dx != 0);
      }
    BOOST_TEST(matches == 1, "copy " << i);
  }
  BOOST_TEST(moved > 0);
  BOOST_TEST(same_bits(shifted_copies(q, n, m, 5), c));
  BOOST_TEST(!same_bits(shifted_copies(q, n, m, 6), c));
  BOOST_TEST(same_bits(shifted_copies(q, 2, 0, 5).slice(0, 1, 2), q));
  BOOST_CHECK_EXCEPTION(shifted_copies(tensor::zeros({2, 3, 28, 28}), 4, 2, 0), Error,
                        [](const Error& e) {
                          return message_has(e, {"query", "[1, C, H, W]"});
                        });
  BOOST_CHECK_EXCEPTION(shifted_copies(q.to(DType::f64), 4, 2, 0), Error, [](const Error& e) {
    return message_has(e, {"query", "f32"});
  });
  BOOST_CHECK_EXCEPTION(shifted_copies(q, 0, 2, 0), Error,
                        [](const Error& e) { return message_has(e, {"n = 0"}); });
  BOOST_CHECK_EXCEPTION(shifted_copies(q, 4, 28, 0), Error, [](const Error& e) {
    return message_has(e, {"max_shift = 28", "[0, 28)"});
  });
  BOOST_CHECK_EXCEPTION(shifted_copies(q, 4, -1, 0), Error,
                        [](const Error& e) { return message_has(e, {"max_shift = -1"}); });
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_before_the_folder_is_made) {
  const std::string d = fresh_temp_dir("concept_adapt_bad");
  auto base = [] { return tiny_base(); };
  const AdaptSettings s = tiny_settings();
  BOOST_CHECK_EXCEPTION(
      fit_adapter([] { return tiny_base(false); }, pool16(), init_row(), s, d, false), Error,
      [](const Error& e) { return message_has(e, {"unconditional"}); });
  BOOST_CHECK_EXCEPTION(fit_adapter(base, tensor::zeros({4, 1, 28, 28}), init_row(), s, d, false),
                        Error, [](const Error& e) {
                          return message_has(e, {"pool", "[4, 1, 28, 28]", "[3, 28, 28]"});
                        });
  BOOST_CHECK_EXCEPTION(fit_adapter(base, pool16(), tensor::zeros({31}), s, d, false), Error,
                        [](const Error& e) {
                          return message_has(e, {"init_row", "[32]"});
                        });
  AdaptSettings bad = s;
  bad.label_dropout = 1.0;
  BOOST_CHECK_EXCEPTION(fit_adapter(base, pool16(), init_row(), bad, d, false), Error,
                        [](const Error& e) { return message_has(e, {"label_dropout"}); });
  BOOST_TEST(!fs::exists(d));
}
