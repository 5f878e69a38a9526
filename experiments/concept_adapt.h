// Concept discovery's step 5b (spec_mlgdf_concepts_drifting §3.9) and the pool of its query-only
// baseline (§3.10): a NEW class fitted into a frozen class-conditional U-Net DDPM from a pool of
// images, as one trainable label-embedding row (nn::UNet::add_class: "label_new.0", label
// num_classes + 1; the null class of guidance stays num_classes) plus LoRA (nn/lora.h, rank 4,
// α 4, B = 0 so the fit starts at the base model) on the layers adapter_target() accepts:
//   temb.mlp.0, temb.mlp.2         the time-embedding MLP's linears (the class row is added to
//                                  its output, so there is no separate class MLP to adapt)
//   <…>.res<…>.t                   each ResBlock's embedding projection (down.i.res.j.t,
//                                  mid.res1.t, mid.res2.t, up.i.res.j.t)
//   <…>.attn<…>.qkv, <…>.attn<…>.o  attention: q, k and v in one 1×1 conv, and the output
// Every other base weight is frozen and stays bit-identical.
// Training is the project's one loop (train_loop.h) with train-ddpm's loss: diffusion_loss on
// pool rows all labelled new, each dropped to the null class with p = label_dropout (10%) so the
// unconditional branch stays consistent. One Adam learning rate for row and LoRA alike (default
// 1e-3, the spec's embedding rate; the spec gives LoRA 1e-4, which one loop cannot), no EMA, grad
// clip 1.0. The fit owns the run folder `dir`: config.json (what defines the fit, fingerprints of
// the pool, init row and base weights included), metrics.csv (loss rows), timing.json and
// checkpoints/state.safetensors (bit-exact resume, also after a cancellation or stop_after);
// once finished, checkpoints/adapter.safetensors with the trainable tensors only (LoRA A/B and
// label_new.0). A later call on a finished folder loads that file instead of training; a folder
// that holds a fit of other settings is refused.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/ddpm_model.h"

namespace difflab::experiments {

struct AdaptSettings {
  int64_t steps = 500, batch = 32, rank = 4, checkpoint_every = 100, log_every = 50;
  double alpha = 4, lr = 1e-3, label_dropout = 0.1, grad_clip = 1.0;
  uint64_t seed = 0;       // LoRA A, the random init row, noise and data order (named streams)
  int64_t stop_after = 0;  // stop with a state once this step is reached (0 = off; not stored)
};

struct AdaptedModel {
  std::shared_ptr<DdpmModel> model;        // the base model with the adapter, in eval mode
  int64_t label = 0;                       // the new class: sample with labels = label
  std::vector<std::string> adapted_paths;  // the layers given LoRA
  int64_t trainable = 0;                   // LoRA A/B and the new row
  bool finished = false;  // false: stopped early (stop_after, cancellation); resume continues
};

// The LoRA filter on a module's dotted path (see the header comment).
bool adapter_target(const std::string& path);

// Fits (or, from a finished folder, loads) the new class. make_base() returns a fresh copy of
// the pretrained model (weights loaded, eval mode; its module an nn::UNet with classes). pool:
// f32 [N, C, H, W] of the model's sample shape. init_row: the new row's start, [embed_dim] f32
// (undefined: N(0, 0.02²) from the seed). With `resume`, an interrupted fit in `dir` continues
// from its state bit-exactly; without, an unfinished one starts over.
AdaptedModel fit_adapter(const std::function<std::shared_ptr<DdpmModel>()>& make_base,
                         const tensor::Tensor& pool, const tensor::Tensor& init_row,
                         const AdaptSettings& s, const std::string& dir, bool resume);

// The query-only baseline's pool: n copies of query f32 [1, C, H, W], copy i moved by a random
// integer offset (dy, dx) in [−max_shift, max_shift]² (out[i, c, y, x] = query[c, y − dy, x − dx],
// uncovered pixels the background value −1), from the seed. No flips: a flipped digit is
// another digit.
tensor::Tensor shifted_copies(const tensor::Tensor& query, int64_t n, int64_t max_shift,
                              uint64_t seed);

}  // namespace difflab::experiments
