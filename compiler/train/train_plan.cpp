#include "compiler/train/train_plan.h"

#include <algorithm>
#include <cmath>

namespace starc {

double learning_rate(const Schedule& s, int64_t step, int64_t epoch, int64_t total_steps) {
  if (step < 0) step = 0;
  if (epoch < 0) epoch = 0;
  double lr = s.base_lr;
  switch (s.kind) {
    case Schedule::Kind::Constant:
      break;
    case Schedule::Kind::Step:
      lr = s.base_lr * std::pow(s.gamma, double(epoch / std::max<int64_t>(1, s.every_epochs)));
      break;
    case Schedule::Kind::Cosine: {
      // Reaches min_lr at the last update (step total_steps - 1).
      int64_t span = total_steps - 1 - s.warmup_steps;
      double t = span > 0 ? std::clamp(double(step - s.warmup_steps) / double(span), 0.0, 1.0) : 0.0;
      lr = s.min_lr + (s.base_lr - s.min_lr) * 0.5 * (1 + std::cos(M_PI * t));
      break;
    }
  }
  if (step < s.warmup_steps) lr *= double(step + 1) / double(s.warmup_steps);
  return lr;
}

}  // namespace starc
