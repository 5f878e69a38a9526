// `difflab concepts`: test-time concept discovery (spec_mlgdf_concepts §3) on ColorMNIST
// benchmark A. For each held-out (digit, colour) composition and each of concepts.queries real
// query images of it: discovery on the pretrained class-conditional DDPM (trained first from
// concepts.base_preset when missing), the PoE teacher sampled through CFG, its pool distilled
// into a new class + LoRA, and the baselines (nearest trained class; a new class + LoRA on the
// query alone), judged against the composition's real images. One resumable sub-run per
// (composition, query): a stopped run continues where it was. Also the Fashion-MNIST mode
// hierarchy figure (modes at several timesteps, the paper's Fig. 4 analogue) when
// concepts.hierarchy_base names an unconditional Fashion-MNIST run.
#pragma once
#include "experiments/command.h"
#include "experiments/concept_query.h"

namespace difflab::experiments {

Config concepts_config();
ConceptSettings concept_settings(const Config& cfg);
int run_concepts(const CommandArgs& args);

}  // namespace difflab::experiments
