namespace Vtx.Decoding;
/// <summary>x</summary>
public static class P { }
