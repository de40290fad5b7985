import { ConfigError } from './errors.js';

export interface CompletedCommand {
  name: string;
  description: string;
  flags: string[];
}

/** Commands whose positional arguments are stage names. */
const TAKES_STAGES = ['run', 'push', 'pull', 'job', 'export'];
/** The project's stage names, read from `pipe dag --json` (stage is each line's first key). */
const STAGES_SED = `pipe dag --json 2>/dev/null | sed -n 's/^{"stage":"\\([^"]*\\)".*/\\1/p'`;

function bash(commands: CompletedCommand[], global: string[]): string {
  const flags = commands.map((c) => `    ${c.name}) flags="${c.flags.join(' ')}" ;;`).join('\n');
  return `# pipe completion for bash: source <(pipe completion bash), or save it in /etc/bash_completion.d/pipe
_pipe() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')}" -- "$cur"))
    return
  fi
  case "$cmd" in
${flags}
  esac
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$flags ${global.join(' ')}" -- "$cur")) ;;
    *) case "$cmd" in ${TAKES_STAGES.join('|')}) COMPREPLY=($(compgen -W "$(${STAGES_SED})" -- "$cur")) ;; esac ;;
  esac
}
complete -o default -F _pipe pipe
`;
}

function fish(commands: CompletedCommand[], global: string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, "\\'")}'`;
  const lines = ['# pipe completion for fish: pipe completion fish > ~/.config/fish/completions/pipe.fish', 'complete -c pipe -f'];
  for (const c of commands) lines.push(`complete -c pipe -n __fish_use_subcommand -a ${c.name} -d ${q(c.description)}`);
  const flag = (f: string) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
  for (const c of commands) for (const f of c.flags) lines.push(`complete -c pipe -n '__fish_seen_subcommand_from ${c.name}' ${flag(f)}`);
  for (const f of global) lines.push(`complete -c pipe ${flag(f)}`);
  lines.push(`complete -c pipe -n '__fish_seen_subcommand_from ${TAKES_STAGES.join(' ')}' -a '(pipe dag --json 2>/dev/null | string match -rg "^\\{\\"stage\\":\\"([^\\"]*)\\"")'`);
  return `${lines.join('\n')}\n`;
}

/** A shell's completion script for pipe: its commands, each command's flags, and the project's stage names where a command takes stages. */
export function completionScript(shell: string, commands: CompletedCommand[], global: string[]): string {
  if (shell === 'bash') return bash(commands, global);
  // zsh runs the bash function through its bash-compatible completion.
  if (shell === 'zsh') return `# pipe completion for zsh: source <(pipe completion zsh) in ~/.zshrc\nautoload -U +X bashcompinit && bashcompinit\n${bash(commands, global).split('\n').slice(1).join('\n')}`;
  if (shell === 'fish') return fish(commands, global);
  throw new ConfigError(`pipe completion: expected bash, zsh or fish, got '${shell}'`);
}
