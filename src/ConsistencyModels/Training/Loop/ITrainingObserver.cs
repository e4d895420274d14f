// What the training loop tells the outside: each logged window and each saved checkpoint. Progress bars, sample grids
// and plots are observers (the CLI's), so the loop itself only trains, logs and saves.
namespace ConsistencyModels.Training;

/// <summary>
/// Where a run stands. <see cref="RunStep"/> of <see cref="RunSteps"/> count this process's steps; <see cref="Loss"/> is
/// the mean since the previous log (NaN in save reports); <see cref="Saved"/> is the train_state file of a save report.
/// </summary>
public sealed record TrainingProgress(long Step, long TotalSteps, long RunStep, long RunSteps, double Loss, int Scales, double TargetEma,
                                      double ImagesPerSecond, TimeSpan Elapsed, string? Saved = null);

public interface ITrainingObserver
{
    /// <summary>At every log interval, on every rank.</summary>
    void OnLog(TrainingProgress progress) { }

    /// <summary>On rank 0, once the checkpoint of <paramref name="state"/>.Step is complete on disk.</summary>
    void OnSave(TrainingProgress progress, TrainingState state) { }
}
