// Op-table cases: views (reshape, permute, slice, expand, ...) and reductions.
#include "autograd/functions.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

std::vector<OpCase> shape_reduce_cases() {
  using V = const std::vector<Var>&;
  std::vector<OpCase> c;
  // Views are followed by a nonlinearity so the second-order check is not trivially zero.
  auto sq = [](const Var& y) { return square(y); };
  c.push_back({"reshape", {{{2, 3, 4}}}, [sq](V x) { return sq(reshape(x[0], {6, 4})); }, true});
  c.push_back({"view", {{{2, 3, 4}}}, [sq](V x) { return sq(view(contiguous(x[0]), {4, -1})); },
               true});
  c.push_back({"slice_backward", {{{2, 2}}},
               [sq](V x) { return sq(slice_backward(x[0], {5, 2}, 0, 1, 5, 2)); }, true});
  c.push_back({"flatten", {{{2, 3, 4}}}, [sq](V x) { return sq(flatten(x[0], 1)); }, true});
  c.push_back({"permute", {{{2, 3, 4}}}, [sq](V x) { return sq(permute(x[0], {2, 0, 1})); }, true});
  c.push_back({"transpose", {{{3, 4}}}, [sq](V x) { return sq(transpose(x[0], 0, 1)); }, true});
  c.push_back({"slice_step", {{{5, 6}}}, [sq](V x) { return sq(slice(x[0], 1, 1, 6, 2)); }, true});
  c.push_back({"select", {{{3, 4}}}, [sq](V x) { return sq(select(x[0], 0, -1)); }, true});
  c.push_back({"expand", {{{3, 1}}}, [sq](V x) { return sq(expand(x[0], {2, 3, 4})); }, true});
  c.push_back({"squeeze_unsqueeze", {{{3, 1, 4}}},
               [sq](V x) { return sq(unsqueeze(squeeze(x[0], 1), 0)); }, true});
  c.push_back({"contiguous_of_transpose", {{{3, 4}}},
               [sq](V x) { return sq(contiguous(transpose(x[0], 0, 1))); }, true});
  c.push_back({"sum_to", {{{2, 3, 4}}}, [sq](V x) { return sq(sum_to(x[0], {3, 1})); }, true});

  c.push_back({"sum_all", {{{3, 4}}}, [sq](V x) { return sq(sum(x[0])); }, true});
  c.push_back({"sum_dim0", {{{3, 4}}}, [sq](V x) { return sq(sum(x[0], {0})); }, true});
  c.push_back({"sum_dims_keepdim", {{{2, 3, 4}}},
               [sq](V x) { return sq(sum(x[0], {0, 2}, true)); }, true});
  c.push_back({"sum_middle", {{{2, 3, 4}}}, [sq](V x) { return sq(sum(x[0], {1})); }, true});
  c.push_back({"mean_dims", {{{2, 3, 4}}}, [sq](V x) { return sq(mean(x[0], {1, 2})); }, true});
  c.push_back({"var_dims", {{{2, 3, 4}}}, [](V x) { return var(x[0], {0, 2}); }, true});
  c.push_back({"var_biased", {{{3, 5}}}, [](V x) { return var(x[0], {1}, true, 0); }, true});
  c.push_back({"amax", {{{3, 5}}}, [sq](V x) { return sq(amax(x[0], 1)); }, true});
  c.push_back({"amax_keepdim", {{{3, 5}}}, [sq](V x) { return sq(amax(x[0], 0, true)); }, true});
  c.push_back({"logsumexp", {{{3, 5}}}, [](V x) { return logsumexp(x[0], {1}); }, true});
  c.push_back({"logsumexp_dims", {{{2, 3, 4}}},
               [](V x) { return logsumexp(x[0], {0, 2}, true); }, true});
  return c;
}

}  // namespace difflab::testing
