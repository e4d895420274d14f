// What `cm train` draws at each save besides the checkpoint: the sample grid and the loss / schedule plots.
using ConsistencyModels.Training;

namespace ConsistencyModels.Cli.Reporting;

/// <param name="directory">The run folder.</param>
/// <param name="sampleColumns">Samples per class in the grid (0: no grid).</param>
/// <param name="dataClasses">The classes of the training data (null: unlabelled).</param>
/// <param name="title">The plots' title.</param>
/// <param name="warn">Where a plot that could not be drawn is reported (training goes on).</param>
internal sealed class TrainingReport(string directory, int sampleColumns, int? dataClasses, string title, Action<string> warn) : ITrainingObserver
{
    public void OnSave(TrainingProgress progress, TrainingState state)
    {
        if (sampleColumns > 0) SampleGrid.Write(state, dataClasses, sampleColumns, SampleGrid.PathIn(directory, state.Step));
        try { TrainingPlots.Write(directory, title); }
        catch (Exception e) when (e is IOException or TypeInitializationException or DllNotFoundException) { warn($"warning: plots not written: {e.Message}"); }
    }
}
