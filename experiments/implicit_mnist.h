// `difflab implicit --set implicit.experiment=mnist`: Implicit Diffusion's experiment 2, reward
// fine-tuning of a pretrained MNIST DDPM (spec_distillation_implicit §3.10 Q3). Reward: the mean
// brightness of T-step ancestral DDPM samples. Every method spends the same budget of network
// evaluations (per-sample forwards and VJPs) with Adam on all U-Net parameters:
//   idt:β      ID-T: a queue of T batches, one step each per update, the adjoint on the popped
//              batch's recorded states, path KL to the base weighted by β
//   nested:β   the nested loop: a fresh batch per update, the same adjoint and regulariser
//   draft      full backprop through the sampler (DRaFT)
//   draft:k    backprop through the last k steps (DRaFT-k)
//   per_step   per-step-checkpointed backprop (the exact gradient at one step's activations)
// At every evaluation point: the mean reward of implicit.eval_n samples, their LeNet Fréchet
// distance, precision and recall against the held-out digits; at the end a sample grid. Each
// finished method is kept in methods/<name>.json (--resume skips it; an interrupted method
// starts again).
#pragma once
#include <string>
#include <vector>

#include "experiments/config.h"
#include "nlohmann/json.hpp"

namespace difflab::experiments {

class Report;
class RunFolder;

void declare_implicit_mnist_keys(Config& c);
// Runs the experiment into `run` and appends its report sections.
void run_implicit_mnist(const Config& cfg, RunFolder& run, bool resume, Report& rep);

}  // namespace difflab::experiments
