// Gradient checkpointing: run fn without recording, keep only its inputs, recompute in backward.
#pragma once
#include <functional>
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

// `inputs` are the Vars fn reads as arguments; `params` are Vars fn uses internally (weights)
// whose gradients must flow. Anything else fn reads is treated as a constant. Gradients are the
// same as without checkpointing; the peak memory holds only fn's inputs and output.
Var checkpoint(const std::function<Var(const std::vector<Var>&)>& fn,
               const std::vector<Var>& inputs, const std::vector<Var>& params = {});

}  // namespace difflab::ag
