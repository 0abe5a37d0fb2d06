// runtime: early stopping and the best epoch's weights (TrainOptions::early_stop_patience,
// monitor, monitor_max). The monitored value is a column of the training history
// (history_columns: val_loss, val_<metric>, train_loss, ...), read after every epoch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/trainer.h"

namespace starc {

class EarlyStopping {
 public:
  // Throws TrainArgumentError when the monitored column does not exist for this plan, or
  // is a validation column without validation data (when early stopping needs it).
  EarlyStopping(const TrainPlan& plan, const TrainOptions& opts, bool have_val);

  // Whether a value is watched at all: early stopping asked for, or a checkpoint folder
  // to keep the best weights in (and the value exists).
  bool active() const { return active_; }
  // After an epoch: true when `r` is the best so far (the first epoch always is).
  bool record(const EpochRecord& r);
  // True once `patience` epochs in a row have not improved on the best.
  bool exhausted(int64_t epoch) const { return patience_ > 0 && best_epoch_ > 0 && epoch - best_epoch_ >= patience_; }
  int64_t best_epoch() const { return best_epoch_; }
  double best_value() const { return best_; }
  // "val_loss has not improved for 3 epochs (best 0.0123 at epoch 5)"
  std::string summary(int64_t epoch) const;

 private:
  const TrainPlan& plan_;
  std::string column_;
  bool max_ = false, active_ = false;
  int64_t patience_ = 0, best_epoch_ = 0;
  double best_ = 0;
};

}  // namespace starc
