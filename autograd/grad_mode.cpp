#include "autograd/grad_mode.h"

namespace difflab::ag {

namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_anomaly = false;
}  // namespace

bool GradMode::is_enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool on) { g_grad_enabled = on; }

AnomalyGuard::AnomalyGuard() : prev_(g_anomaly) { g_anomaly = true; }
AnomalyGuard::~AnomalyGuard() { g_anomaly = prev_; }
bool AnomalyGuard::is_enabled() { return g_anomaly; }

}  // namespace difflab::ag
