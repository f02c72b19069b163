namespace Vtx;
/// <summary>x</summary>
public static class P { }
