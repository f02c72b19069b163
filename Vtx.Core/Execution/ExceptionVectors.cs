namespace Vtx.Execution;

/// <summary>Shorthands for the vectors the handlers raise most.</summary>
internal static class ExceptionVectors
{
    public const ExceptionVector UD = ExceptionVector.UD;
    public const ExceptionVector DE = ExceptionVector.DE;
    public const ExceptionVector GP = ExceptionVector.GP;
}
