#include "experiments/command_table.h"

#include "experiments/cdm.h"
#include "experiments/compare_runs.h"
#include "experiments/concepts.h"
#include "experiments/ddpm_model.h"
#include "experiments/distill.h"
#include "experiments/drift_align.h"
#include "experiments/drift_compare.h"
#include "experiments/implicit.h"
#include "experiments/mem_depth.h"
#include "experiments/presets.h"
#include "experiments/sample_eval.h"
#include "experiments/train_cond.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"

namespace difflab::experiments {

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> table{
      {"train-ddpm", "train a DDPM (2-D/N-D vectors or images)", ddpm_config, run_train_ddpm,
       true},
      {"sample", "sample a trained run (any training command's) into a grid", nullptr,
       run_sample, false, true},
      {"eval", "held-out metrics of a trained run's samples (eval.seeds draws)", nullptr,
       run_eval, false, true},
      {"distill", "progressive distillation of a train-ddpm teacher down to 1 step (Salimans & Ho)",
       distill_config, run_distill, true},
      {"drift-align",
       "Laplace drifting vs kernel-score alignment over dimension (unified view, E2)",
       drift_align_config, run_drift_align},
      {"train-drift", "a one-step generator trained with the drifting loss (Deng et al.)",
       drift_config, run_train_drift, true},
      {"train-flux", "a vector field trained by flux matching, sampled by Langevin", flux_config,
       run_train_flux, true},
      {"train-cond",
       "a conditional sampler of Y | X on MLGD-F's joint mixtures (iCT consistency model or DDPM)",
       cond_config, run_train_cond, true},
      {"cdm",
       "MLGD-F conditional distribution matching on the synthetic mixtures, with its baselines",
       cdm_config, run_cdm, true},
      {"mem-depth",
       "gradient memory, time and error against sampler depth K for every checkpointing "
       "schedule, the adjoint, truncation and the score function",
       mem_depth_config, run_mem_depth, true},
      {"implicit",
       "Implicit Diffusion: the Langevin hexagon (ID-inf against nested loops and unrolled "
       "backprop) and brightness fine-tuning of an MNIST DDPM (ID-T against DRaFT and others)",
       implicit_config, run_implicit, true},
      {"concepts",
       "test-time concept discovery on held-out ColorMNIST compositions: mode ascent, Gaussian "
       "prototypes, submodular selection, a PoE teacher through CFG and LoRA adaptation, against "
       "the query-only and nearest-class baselines",
       concepts_config, run_concepts, true},
      {"drift-compare", "drifting (Laplace, Gaussian) against DDPM at 1/4/50 steps on 2-D data",
       drift_compare_config, run_drift_compare},
      {"compare-runs", "gather finished run folders (metrics, sample grids) into one page",
       compare_runs_config, run_compare_runs},
      {"presets", "list every preset with its description and the commands that accept it",
       nullptr, run_presets},
  };
  return table;
}

const CommandSpec* find_command(const std::string& name) {
  for (const CommandSpec& c : command_table())
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace difflab::experiments
