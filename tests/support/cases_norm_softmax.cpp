// Op-table cases: group_norm, group_norm_silu, layer_norm (with and without affine parameters),
// softmax and log_softmax. Every case also runs the second-order check, which exercises the
// composed (create_graph) backward of the norms; the first-order check exercises the fused kernels.
#include "autograd/functions.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

std::vector<OpCase> norm_softmax_cases() {
  using V = const std::vector<Var>&;
  std::vector<OpCase> c;
  const Shape xs{2, 4, 3, 3};
  for (int64_t groups : {1, 2, 4}) {
    const std::string g = std::to_string(groups);
    c.push_back(
        {"group_norm_g" + g, {{xs}}, [groups](V x) { return group_norm(x[0], groups); }, true});
    c.push_back({"group_norm_affine_g" + g,
                 {{xs}, {{4}}, {{4}}},
                 [groups](V x) { return group_norm(x[0], groups, x[1], x[2]); },
                 true});
  }
  c.push_back({"group_norm_weight_only",
               {{xs}, {{4}}},
               [](V x) { return group_norm(x[0], 2, x[1]); },
               true});
  c.push_back({"group_norm_bias_only",
               {{xs}, {{4}}},
               [](V x) { return group_norm(x[0], 2, Var(), x[1]); },
               true});
  // A 3-D input [N, C, L] and a larger eps.
  c.push_back({"group_norm_3d_eps",
               {{{3, 4, 5}}, {{4}}, {{4}}},
               [](V x) { return group_norm(x[0], 2, x[1], x[2], 1e-2); },
               true});

  // The fused group_norm + SiLU: with and without each affine parameter (the bias's gradient
  // goes through σ' too), and a 3-D input.
  c.push_back({"group_norm_silu_affine",
               {{xs}, {{4}}, {{4}}},
               [](V x) { return group_norm_silu(x[0], 2, x[1], x[2]); },
               true});
  c.push_back(
      {"group_norm_silu_plain", {{xs}}, [](V x) { return group_norm_silu(x[0], 4); }, true});
  c.push_back({"group_norm_silu_weight_only",
               {{xs}, {{4}}},
               [](V x) { return group_norm_silu(x[0], 1, x[1]); },
               true});
  c.push_back({"group_norm_silu_bias_only",
               {{xs}, {{4}}},
               [](V x) { return group_norm_silu(x[0], 2, Var(), x[1]); },
               true});
  c.push_back({"group_norm_silu_3d_eps",
               {{{3, 4, 5}}, {{4}}, {{4}}},
               [](V x) { return group_norm_silu(x[0], 2, x[1], x[2], 1e-2); },
               true});

  const Shape ls{2, 3, 4};
  c.push_back({"layer_norm_last1", {{ls}}, [](V x) { return layer_norm(x[0], 1); }, true});
  c.push_back({"layer_norm_last2", {{ls}}, [](V x) { return layer_norm(x[0], 2); }, true});
  c.push_back({"layer_norm_affine_last1",
               {{ls}, {{4}}, {{4}}},
               [](V x) { return layer_norm(x[0], 1, x[1], x[2]); },
               true});
  c.push_back({"layer_norm_affine_last2",
               {{ls}, {{3, 4}}, {{3, 4}}},
               [](V x) { return layer_norm(x[0], 2, x[1], x[2]); },
               true});
  c.push_back({"layer_norm_all_dims_affine",
               {{{3, 4}}, {{3, 4}}, {{3, 4}}},
               [](V x) { return layer_norm(x[0], 2, x[1], x[2]); },
               true});
  c.push_back({"layer_norm_bias_only",
               {{ls}, {{4}}},
               [](V x) { return layer_norm(x[0], 1, Var(), x[1]); },
               true});

  for (int64_t d : {0, 1, -1}) {
    const std::string n = d < 0 ? "m1" : std::to_string(d);
    c.push_back({"softmax_dim" + n, {{ls}}, [d](V x) { return softmax(x[0], d); }, true});
    c.push_back({"log_softmax_dim" + n, {{ls}}, [d](V x) { return log_softmax(x[0], d); }, true});
  }
  return c;
}

}  // namespace difflab::testing
