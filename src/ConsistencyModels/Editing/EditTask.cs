// The editing tasks of Song et al. (2023) §5.3, and what each one needs: the one place the CLI and the studio ask.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Editing;

public enum EditTask { Inpaint, Colorize, SuperRes, Stroke, Interpolate, Denoise }

public static class EditTasks
{
    extension(EditTask task)
    {
        /// <summary>The task as the CLI and the studio name it (inpaint, colorize, superres, ...).</summary>
        public string Name => task == EditTask.SuperRes ? "superres" : task.ToString().ToLowerInvariant();

        /// <summary>Colorization keeps the luminance and generates the chroma: the model must have three channels.</summary>
        public bool RequiresRgb => task == EditTask.Colorize;

        /// <summary>Whether the task edits given images; interpolation starts from random latents instead.</summary>
        public bool TakesImages => task != EditTask.Interpolate;

        /// <summary>Whether a known-pixel mask applies (inpainting only).</summary>
        public bool TakesMask => task == EditTask.Inpaint;

        /// <summary>Throws when <paramref name="model"/> cannot do this task, calling the model <paramref name="modelName"/>.</summary>
        public void CheckModel(ModelConfig model, string modelName = "this model")
        {
            int c = model.InChannels;
            if (task.RequiresRgb && c != 3)
                throw new ArgumentException($"{task.Name} needs an RGB model; {modelName} has {c} channel{(c == 1 ? "" : "s")}");
        }
    }
}
