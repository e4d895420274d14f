// Stroke-guided generation (SDEdit-like), Song et al. (2023) appendix D: A = I, Ω = all ones, t₁ = 5.38, t₂ = 2.24.
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>
/// Nothing is kept from the reference: it only sets the starting point y + t₁·z, from which the model re-imagines a
/// realistic image (taken literally, Algorithm 4's line 2 would zero y; the paper's intent is SDEdit's).
/// The paper's t₁ = 5.38 and t₂ = 2.24 are indices 16 and 20 of the 40-point Karras grid: <see cref="DefaultTs"/>.
/// </summary>
public sealed class StrokeGuided : EditOperator
{
    public static IReadOnlyList<int> DefaultTs { get; } = [16, 20, 39];

    private readonly Tensor _known = zeros(1);

    public override Tensor Known => _known;
    public override Tensor Forward(Tensor x) => x.alias();
    public override Tensor Inverse(Tensor latent) => latent.alias();
    public override Tensor Degrade(Tensor reference) => reference.alias();

    public override void Dispose() { _known.Dispose(); base.Dispose(); }
}
