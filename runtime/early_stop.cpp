#include "runtime/early_stop.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace starc {

EarlyStopping::EarlyStopping(const TrainPlan& plan, const TrainOptions& opts, bool have_val)
    : plan_(plan), column_(opts.monitor), max_(opts.monitor_max), patience_(opts.early_stop_patience) {
  if (patience_ < 0)
    throw TrainArgumentError(fmt::format("{} must be at least 0, got {}", param_ref("early_stop_patience"), patience_));
  std::vector<std::string> columns;
  for (const std::string& c : history_columns(plan))
    if (c != "epoch" && c != "step" && c != "lr" && c != "seconds") columns.push_back(c);
  const bool exists = std::find(columns.begin(), columns.end(), column_) != columns.end();
  const bool needs_val = column_.rfind("val_", 0) == 0;
  if (patience_ > 0 && !exists)
    throw TrainArgumentError(fmt::format("{} '{}' is not a column of the training history (they are: {})",
                                         param_ref("monitor"), column_, fmt::join(columns, ", ")));
  if (patience_ > 0 && needs_val && !have_val)
    throw TrainArgumentError(fmt::format("{} on {} {} needs validation data ({})", param_ref("early_stop_patience"),
                                         param_ref("monitor"), column_, param_ref("val")));
  active_ = exists && (!needs_val || have_val) && (patience_ > 0 || !opts.checkpoint_dir.empty());
}

bool EarlyStopping::record(const EpochRecord& r) {
  if (!active_) return false;
  std::optional<double> v = history_value(plan_, r, column_);
  if (!v || !std::isfinite(*v)) return false;
  bool better = best_epoch_ == 0 || (max_ ? *v > best_ : *v < best_);
  if (better) best_ = *v, best_epoch_ = r.epoch;
  return better;
}

std::string EarlyStopping::summary(int64_t epoch) const {
  return fmt::format("{} has not improved for {} epoch{} (best {:.6g} at epoch {})", column_, epoch - best_epoch_,
                     epoch - best_epoch_ == 1 ? "" : "s", best_, best_epoch_);
}

}  // namespace starc
