// asl-validator 4.0.0 ships no type declarations.
declare module 'asl-validator' {
  const validate: (definition: unknown) => { isValid: boolean; errors: unknown[] };
  export default validate;
}
