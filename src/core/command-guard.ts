/**
 * Watches a command's process group for pipe (command.ts starts one per
 * command): when pipe goes away, even by `kill -9`, this process's stdin
 * (a pipe from pipe) closes, and it kills the whole group, so no command
 * outlives the run that started it.
 */
const group = Number(process.argv[2]);
process.stdin.resume();
process.stdin.on('end', () => {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
  process.exit(0);
});
