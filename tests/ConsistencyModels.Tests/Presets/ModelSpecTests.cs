// ModelSpec.Resolve: one meaning of preset / recipe / config / checkpoint for every front end.
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using Xunit;

namespace ConsistencyModels.Tests.Presets;

public sealed class ModelSpecTests
{
    [Fact]
    public void NothingNamedIsTheBuiltInDefaultWithItsEmbeddedWeights()
    {
        var spec = ModelSpec.Resolve();
        var b = BuiltInModels.Default;
        Assert.Equal((b.Name, ModelOrigin.BuiltIn, b.DefaultSampler, b.Steps, b.DefaultGenerator), (spec.Name, spec.Origin, spec.DefaultSampler, spec.Steps, spec.DefaultGenerator));
        Assert.Equal(b.TwoStepTs, spec.TwoStepTs);
        Assert.Same(b.Model, spec.Config);
        Assert.True(spec.UsesEmbeddedWeights);
        Assert.Equal(BuiltInModels.FashionMnistClasses, spec.ClassNames);
        Assert.Equal(spec, ModelSpec.Resolve(preset: BuiltInModels.DefaultName));
    }

    [Fact]
    public void ReleasedPresetKeepsItsSamplingSettingsAndTheGivenFile()
    {
        using var dir = new TempDir();
        var file = dir.File("weights.pt");
        File.WriteAllBytes(file, [0]);
        foreach (var preset in CheckpointPresets.All)
        {
            var spec = ModelSpec.Resolve(preset: preset.Name, checkpoint: file, checkpointKey: "ema");
            Assert.Equal((preset.Name, ModelOrigin.Released, file, "ema"), (spec.Name, spec.Origin, spec.Weights, spec.CheckpointKey));
            Assert.Equal((preset.DefaultSampler, preset.Steps, preset.DefaultGenerator), (spec.DefaultSampler, spec.Steps, spec.DefaultGenerator));
            Assert.Equal(preset.TwoStepTs, spec.TwoStepTs);
            Assert.Equal(preset.DefaultSampling(SamplerKind.Multistep).Ts, spec.DefaultSampling(SamplerKind.Multistep).Ts);
        }
    }

    [Fact]
    public void RecipeSetsSamplerTsStepsAndGeneratorOverItsPreset()
    {
        using var dir = new TempDir();
        var file = dir.File("weights.pt");
        File.WriteAllBytes(file, [0]);
        foreach (var recipe in CheckpointPresets.Recipes)
        {
            var spec = ModelSpec.Resolve(recipe: recipe.Name, checkpoint: file);
            Assert.Equal((recipe.Name, ModelOrigin.Recipe, recipe.Sampler, recipe.Steps, recipe.Generator),
                         (spec.Name, spec.Origin, spec.DefaultSampler, spec.Steps, spec.DefaultGenerator));
            Assert.Equal(recipe.Ts, spec.TwoStepTs);
            Assert.Same(recipe, spec.Recipe);
            Assert.Equal(CheckpointPresets.Get(recipe.Preset).Model, spec.Config);
        }
    }

    [Fact]
    public void ConfigFileSamplesEdmWithHeunAndConsistencyInOneStep()
    {
        using var dir = new TempDir();
        var weights = dir.File("w.pt");
        File.WriteAllBytes(weights, [0]);
        foreach (var kind in new[] { DenoiserKind.Edm, DenoiserKind.Consistency })
        {
            var json = dir.File($"{kind}.json");
            File.WriteAllText(json, ModelConfigJson.ToJson(CheckpointPresets.ImageNet64(kind)));
            var spec = ModelSpec.Resolve(modelConfig: json, checkpoint: weights);
            Assert.Equal(ModelOrigin.ConfigFile, spec.Origin);
            Assert.Equal(kind == DenoiserKind.Edm ? SamplerKind.Heun : SamplerKind.Onestep, spec.DefaultSampler);
            Assert.Equal(ModelSpec.DefaultEdmSteps, spec.Steps);
            Assert.Null(spec.TwoStepTs);
            Assert.Equal(ImageNetClasses.Names, spec.ClassNames);
        }
    }

    [Fact]
    public void CheckpointAloneTakesTheRunsConfigBesideIt()
    {
        using var dir = new TempDir();
        var weights = dir.File("ema_0.999_000100.pt");
        File.WriteAllBytes(weights, [0]);

        // No config.json: the built-in architecture with the user's weights.
        var plain = ModelSpec.Resolve(checkpoint: weights);
        Assert.Equal((ModelOrigin.BuiltIn, weights), (plain.Origin, plain.Weights));

        // A run of the built-in architecture (dropout aside): still the built-in model's defaults.
        File.WriteAllText(dir.File("config.json"), ModelConfigJson.ToJson(BuiltInModels.Default.Model with { Dropout = 0.1 }));
        Assert.Equal(ModelOrigin.BuiltIn, ModelSpec.Resolve(checkpoint: weights).Origin);

        // An EDM teacher run: its own config, sampled with Heun.
        File.WriteAllText(dir.File("config.json"), ModelConfigJson.ToJson(TrainingPresets.FashionMnist32(DenoiserKind.Edm)));
        var teacher = ModelSpec.Resolve(checkpoint: weights);
        Assert.Equal((ModelOrigin.ConfigFile, DenoiserKind.Edm, SamplerKind.Heun), (teacher.Origin, teacher.Config.Denoiser, teacher.DefaultSampler));

        // A file named like a released checkpoint is that checkpoint.
        var released = dir.File("ct_bedroom256.pt");
        File.WriteAllBytes(released, [0]);
        Assert.Equal((ModelOrigin.Released, "ct_bedroom256"), (ModelSpec.Resolve(checkpoint: released).Origin, ModelSpec.Resolve(checkpoint: released).Name));
    }

    [Fact]
    public void ConflictingOrMissingSourcesFailNamingTheProperties()
    {
        var both = Assert.Throws<ArgumentException>(() => ModelSpec.Resolve(preset: "cd_imagenet64_l2", modelConfig: "x.json"));
        Assert.Contains("`Preset`", both.Message);
        Assert.Contains("`ModelConfig`", both.Message);
        var noWeights = Assert.Throws<ArgumentException>(() => ModelSpec.Resolve(modelConfig: "x.json"));
        Assert.Contains("`Checkpoint`", noWeights.Message);
        Assert.Throws<ArgumentException>(() => ModelSpec.FromPreset(CheckpointPresets.Get("cd_imagenet64_l2"), null));
    }

    [Fact]
    public void LoadingASpecEqualsLoadingItsPresetDirectly()
    {
        // The README's library example, with the built-in weights written to a file: the spec resolved from that file
        // (built-in architecture, file weights) loads the same network as the embedded weights.
        using var dir = new TempDir();
        var file = dir.File("weights.pt");
        var weights = BuiltInModels.LoadStateDict(BuiltInModels.Default);
        ConsistencyModels.IO.Checkpoints.TorchCheckpoint.Save(file, weights);
        foreach (var t in weights.Values) t.Dispose();
        var spec = ModelSpec.Resolve(checkpoint: file);
        Assert.Equal((ModelOrigin.BuiltIn, file), (spec.Origin, spec.Weights));
        var request = new GenerationRequest { NumSamples = 3, BatchSize = 3, Seed = 5, ClassLabels = [1, 7, 9], Sampling = spec.DefaultSampling(SamplerKind.Multistep) };
        using var viaSpec = ConsistencyPipeline.Load(spec);
        using var direct = ConsistencyPipeline.LoadBuiltIn(BuiltInModels.DefaultName);
        var a = viaSpec.Generate(request);
        var b = direct.Generate(request);
        Assert.Equal(b.Images, a.Images);
        Assert.Equal(2, request.Sampling.Evaluations);
    }
}
