namespace TorchDistortion.Tests.Networks;

public sealed class DeviceSpecTests
{
    [Theory]
    [InlineData("auto", "auto", null)]
    [InlineData("CPU", "cpu", null)]
    [InlineData("cuda", "cuda", null)]
    [InlineData("cuda:0", "cuda", 0)]
    [InlineData(" cuda:12 ", "cuda", 12)]
    public void ParsesTheDevicesByName(string text, string name, int? index)
    {
        var device = DeviceSpec.Parse(text);
        Assert.Equal(name, device.Name);
        Assert.Equal(index, device.Index);
        Assert.Equal(device, DeviceSpec.Parse(device.ToString()));
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cuda:1:2")]
    [InlineData("")]
    public void RefusesOthersNamingTheSetting(string text)
    {
        var error = Assert.Throws<SettingException>(() => DeviceSpec.Parse(text));
        Assert.Equal("device", error.Setting);
        Assert.Contains($"'{text}'", error.Message);
    }

    [Fact]
    public void CudaWithoutCudaIsRefusedInOneLine()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // the machine has a GPU: nothing to refuse
        var error = Assert.Throws<SettingException>(() => DeviceSpec.Parse("cuda:0").Resolve());
        Assert.Equal("device", error.Setting);
        Assert.Equal(TorchSharp.DeviceType.CPU, DeviceSpec.Auto.Resolve().type);
    }
}
