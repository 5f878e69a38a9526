// How an MMD kernel's bandwidth is chosen. Every choice is made from the sample values alone,
// without gradient (plain tensors), so a training loss never differentiates through h: the
// bandwidth is a setting of the loss, not part of what is optimised.
//   fixed    h given.
//   median   h = median_bandwidth(X, Y) = sqrt(median{‖a − b‖² > 0}/2) (MLGD-F's current code,
//            divergence.h); used as h in whichever kernel formula is chosen.
//   multi    the older MLGD-F code's 5-bandwidth Gaussian mixture (spec §1.3): Z = [X; Y],
//            b = mean of the off-diagonal ‖z_a − z_a'‖², k = Σ_{j=0..4} exp(−‖x − y‖²/(b·2^{j−2})).
//            The old code let b carry gradient; here b is detached. Gaussian kernel only.
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::matching {

enum class BandwidthMode { median, multi, fixed };

struct Bandwidth {
  BandwidthMode mode = BandwidthMode::median;
  double value = 0.0;  // h for BandwidthMode::fixed (> 0); unused otherwise

  static Bandwidth median() { return {BandwidthMode::median, 0.0}; }
  static Bandwidth multi() { return {BandwidthMode::multi, 0.0}; }
  static Bandwidth fixed(double h) { return {BandwidthMode::fixed, h}; }
};

// "median", "multi" or a finite number > 0; throws naming the bad value and the allowed forms.
Bandwidth parse_bandwidth(const std::string& text);
std::string bandwidth_to_string(const Bandwidth& b);

// b of the multi kernel: the mean squared distance over the (N+M)² − (N+M) ordered pairs a ≠ a'
// of Z = [X; Y] (flattened features). Needs N + M ≥ 2 and b > 0.
double multi_bandwidth_scale(const tensor::Tensor& x, const tensor::Tensor& y);
// The Gaussian bandwidths h_j of exp(−r²/(2h_j²)) equal to exp(−r²/(b·2^{j−2})), j = 0..4:
// 2h_j² = b·2^{j−2}.
std::vector<double> multi_bandwidths(double b);
// The bandwidths a kernel uses for (X, Y): one for fixed and median, five for multi.
std::vector<double> resolve_bandwidths(const Bandwidth& b, const tensor::Tensor& x,
                                       const tensor::Tensor& y);

}  // namespace difflab::matching
