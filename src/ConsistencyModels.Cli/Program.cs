using TorchSharp;
Console.WriteLine(torch.randn(2,2).ToString(TorchSharp.TensorStringStyle.Julia));
