// Classifier-free guidance (Ho & Salimans 2022). Convention: the null (unconditional) label is
// the index num_classes, so a class-conditional network has num_classes + 1 label embeddings,
// and training drops labels to it with probability p (drop_labels). Guidance weight w:
//   ε̃ = (1 + w) ε̂(z, c) − w ε̂(z, ∅)      (w = 0 is the conditional model; s = 1 + w).
// The wrapper mixes network outputs in the network's own parameterization. That equals mixing
// ε̂ for eps-, x0- and v-prediction alike: at fixed (z, α, σ) every conversion is affine in the
// output and the weights (1 + w) and −w sum to 1.
#pragma once
#include <cstdint>

#include "diffusion/denoiser.h"
#include "tensor/random.h"

namespace difflab::diffusion {

// A Denoiser that evaluates `net` once on the doubled batch [z; z] with labels [c; ∅] and
// returns (1 + w)·out_c − w·out_∅. Labels must be i64 [B], none negative nor the null label
// num_classes; labels above it (classes added to a frozen network) are the network's to check.
Denoiser classifier_free_guidance(Denoiser net, double w, int64_t num_classes);

// i64 [batch] filled with the null label num_classes, on `device`.
Tensor null_labels(int64_t batch, int64_t num_classes, tensor::Device device = tensor::Device::cpu());
// Training-time condition dropout: each label becomes num_classes with probability p (the
// result sits on the labels' device; the draws are the same on every device).
Tensor drop_labels(const Tensor& labels, double p, int64_t num_classes, tensor::Generator& gen);

}  // namespace difflab::diffusion
