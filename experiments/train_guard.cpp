#include "experiments/train_guard.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "experiments/io.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace difflab::experiments {

namespace {
bool finite_tensor(const tensor::Tensor& t) {
  // x - x is NaN exactly where x is NaN or ±Inf, and the sum of NaN is NaN.
  return std::isfinite(tensor::sum(t.to(tensor::DType::f64), {}).item());
}
}  // namespace

bool all_finite(const std::vector<ag::Var>& params) {
  for (const auto& p : params)
    if (!finite_tensor(p.value())) return false;
  return true;
}

void check_step_finite(const std::string& command, int64_t step, double loss, double gnorm,
                       const std::function<void()>& replay, const std::string& last_checkpoint) {
  if (std::isfinite(loss) && std::isfinite(gnorm)) return;
  std::string where = "anomaly mode did not reproduce it";
  try {
    ag::AnomalyGuard anomaly;
    replay();
  } catch (const difflab::Error& e) {
    where = e.what();
  }
  const bool have_ckpt = !last_checkpoint.empty() && file_exists(last_checkpoint);
  DIFFLAB_FAIL(command, ": step ", step, " gave ",
               std::isfinite(loss) ? "a finite" : "a non-finite", " loss (", loss,
               ") and gradient norm ", gnorm,
               "; the weights were not updated. Replayed in anomaly mode: ", where, ". ",
               have_ckpt ? "The last good checkpoint is '" + last_checkpoint + "' (left as it was)"
                         : std::string("No checkpoint had been written yet"),
               "; try a lower train.lr or train.grad_clip > 0");
}

void check_weights_before_save(const std::string& command, const std::vector<ag::Var>& params,
                               const std::vector<std::string>& names, const std::string& path) {
  for (size_t i = 0; i < params.size(); ++i)
    DIFFLAB_CHECK(finite_tensor(params[i].value()), command, ": parameter '",
                  i < names.size() ? names[i] : std::to_string(i),
                  "' holds NaN/Inf; refusing to overwrite '", path, "' with it");
}

}  // namespace difflab::experiments
