// Training recipes as data: each is the TrainingOptions of one published setting; callers override fields with `with`.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

/// <summary>A named recipe: the mode it trains and the options it starts from, given the network, the run folder and K total steps.</summary>
public sealed record TrainingRecipe(string Name, TrainingMode Mode, Func<ModelConfig, string, long, TrainingOptions> Create);

public static partial class TrainingRecipes
{
    /// <summary>Every recipe; the first of each mode is that mode's default. A new recipe is its file and one line here.</summary>
    public static IReadOnlyList<TrainingRecipe> All { get; } =
    [
        new("edm", TrainingMode.Edm, Edm),
        new("cd", TrainingMode.ConsistencyDistillation, Cd),
        new("ct-short", TrainingMode.ConsistencyTraining, CtShortBudget),
        new("ct", TrainingMode.ConsistencyTraining, Ct),
        new("ict", TrainingMode.ConsistencyTraining, Ict),
        new("ect-short", TrainingMode.EasyConsistencyTuning, EctShortBudget),
        new("ect", TrainingMode.EasyConsistencyTuning, Ect),
    ];

    /// <summary>The recipe a mode uses when none is named.</summary>
    public static TrainingRecipe Default(TrainingMode mode) => All.First(r => r.Mode == mode);

    /// <summary>The recipe called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static TrainingRecipe? Find(string name) => All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));
}
