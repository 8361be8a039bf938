import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsAdminEmail } from '../../common/decorators/validation.decorators';

export class LoginDto {
  /** @example "owner@acme.test" */
  @IsAdminEmail()
  email!: string;

  /**
   * Only shape is checked here: a wrong password of any length is just a
   * failed login, never a hint about the password rules.
   * @example "correct horse battery staple"
   */
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;
}
