// Gradient clipping as torch.nn.utils.clip_grad_norm_ / clip_grad_value_. Clipped gradients are
// written to fresh tensors and set as the parameters' grads, never modified in place: the engine
// may hand the same gradient tensor (or a broadcast view of one) to several leaves.
#pragma once
#include <limits>
#include <vector>

#include "autograd/var.h"

namespace difflab::nn {

// Total `norm_type`-norm of all gradients taken together (parameters without a gradient are
// skipped); when it exceeds max_norm, every gradient is scaled by max_norm / (norm + 1e-6), as in
// PyTorch. norm_type > 0, or infinity for the max-norm. Returns the norm before clipping. The
// sums use a fixed blocking in double, so the result does not depend on the thread count.
// With error_if_nonfinite, a NaN or infinite norm throws instead of scaling.
double clip_grad_norm_(const std::vector<ag::Var>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<ag::Var>& params, double clip_value);

}  // namespace difflab::nn
